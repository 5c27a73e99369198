// Colours for collaborators. The relay assigns each participant a distinct `#rrggbb`;
// these helpers only guard against a colour that is missing or malformed and derive the
// translucent and contrasting shades the decorations need.

/** Used when a participant's colour is unusable; the same id always gets the same one. */
export const FALLBACK_PALETTE = [
  "#e6194b",
  "#3cb44b",
  "#4363d8",
  "#f58231",
  "#911eb4",
  "#42d4f4",
  "#f032e6",
  "#9a6324",
] as const;

/** `#RRGGBB` or `rrggbb` to lower-case `#rrggbb`, or undefined when it is not a colour. */
export function normalizeColor(color: unknown): string | undefined {
  if (typeof color !== "string") {
    return undefined;
  }
  const match = /^#?([0-9a-fA-F]{6})$/.exec(color.trim());
  return match ? `#${match[1].toLowerCase()}` : undefined;
}

/** A stable palette colour for a participant id (FNV-1a hash of its UTF-16 units). */
export function fallbackColor(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return FALLBACK_PALETTE[hash % FALLBACK_PALETTE.length];
}

/** The colour to draw a participant in: theirs when valid, else a stable fallback. */
export function participantColor(participant: { id: string; color: unknown }): string {
  return normalizeColor(participant.color) ?? fallbackColor(participant.id);
}

/** `#rrggbb` plus an alpha byte, for selection backgrounds that let the text show. */
export function withAlpha(color: string, alpha: number): string {
  const clamped = Math.min(1, Math.max(0, alpha));
  const byte = Math.round(clamped * 255)
    .toString(16)
    .padStart(2, "0");
  return `${color}${byte}`;
}

/** Black or white, whichever reads better as text on `color` (WCAG relative luminance). */
export function contrastingText(color: string): "#000000" | "#ffffff" {
  const channel = (offset: number): number => {
    const value = parseInt(color.slice(offset, offset + 2), 16) / 255;
    return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return luminance > 0.179 ? "#000000" : "#ffffff";
}
