//! Participants' colours. Each client id prefers one colour of the palette, so a client
//! that reconnects (same key, so same id) gets the colour it had, and collaborators keep
//! recognising it (issue 14, item 8: "colours change after a reconnect"). When another
//! participant has that colour, the next free one after it is taken; when all are used,
//! the preferred one is shared.

/// Twelve colours far apart from one another on a light or dark background.
pub const PALETTE: [&str; 12] = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
    "#469990", "#800000", "#808000", "#000075",
];

/// The colour for the client `client_id` when `used` are the colours of the other
/// participants.
pub fn pick<'a>(client_id: &str, used: impl IntoIterator<Item = &'a str>) -> &'static str {
    let used: Vec<&str> = used.into_iter().collect();
    let start = preferred(client_id);
    (0..PALETTE.len())
        .map(|i| PALETTE[(start + i) % PALETTE.len()])
        .find(|c| !used.contains(c))
        .unwrap_or(PALETTE[start])
}

/// The palette index `client_id` prefers. FNV-1a rather than std's hasher, which is
/// seeded per process: the same id must prefer the same colour on every relay and
/// after a restart.
fn preferred(client_id: &str) -> usize {
    let hash = client_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % PALETTE.len() as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: usize) -> String {
        pairprog_protocol::identity::client_id(&format!("{i:032}"))
    }

    #[test]
    fn a_client_gets_the_same_colour_every_time() {
        for i in 0..50 {
            let others = ["#e6194b", "#3cb44b"];
            assert_eq!(pick(&id(i), others), pick(&id(i), others));
            assert_eq!(pick(&id(i), []), PALETTE[preferred(&id(i))]);
        }
    }

    #[test]
    fn preferred_colours_spread_over_the_palette() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            seen.insert(pick(&id(i), []));
        }
        assert_eq!(seen.len(), PALETTE.len());
    }

    #[test]
    fn a_clash_takes_the_next_free_colour() {
        let me = id(7);
        let start = preferred(&me);
        let taken = [PALETTE[start], PALETTE[(start + 1) % PALETTE.len()]];
        assert_eq!(pick(&me, taken), PALETTE[(start + 2) % PALETTE.len()]);
    }

    #[test]
    fn colours_stay_distinct_while_the_palette_lasts() {
        let mut used: Vec<&str> = Vec::new();
        for i in 0..PALETTE.len() {
            let colour = pick(&id(i), used.iter().copied());
            assert!(!used.contains(&colour), "{colour} given twice");
            used.push(colour);
        }
        // Past the palette, a client shares its preferred colour.
        assert_eq!(
            pick(&id(99), used.iter().copied()),
            PALETTE[preferred(&id(99))]
        );
    }
}
