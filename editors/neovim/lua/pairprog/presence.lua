-- Collaborators' cursors and selections, drawn as extmarks from $/pairprog/presence.

local position = require('pairprog.position')

local M = {}

M.ns = vim.api.nvim_create_namespace('pairprog_presence')

--- The last presence received; mirrors protocol/src/editor.rs PresenceParams:
--- { room: string?, connection: 'disconnected'|'connecting'|'connected'|'reconnecting',
---   you: Participant?, participants: Participant[] (everyone else),
---   cursors: RemoteCursor[] }, where Participant mirrors protocol/src/messages.rs
--- Participant { id, name, color = '#rrggbb' } and RemoteCursor mirrors
--- protocol/src/editor.rs RemoteCursor { participantId, name, color, uri, path,
--- selections: EditorSelection[] } with EditorSelection { anchor, head } (LSP positions
--- in the negotiated encoding).
M.state = { room = nil, connection = 'disconnected', you = nil, participants = {}, cursors = {} }

--- Where the names go (config.label_position).
M.label_position = 'eol'

local defined = {} ---@type table<string, true> colour (rrggbb) -> groups defined
local marked = {} ---@type table<integer, true> buffers holding our extmarks

local function rgb(hex)
  return tonumber(hex:sub(1, 2), 16), tonumber(hex:sub(3, 4), 16), tonumber(hex:sub(5, 6), 16)
end

--- '#RRGGBB' (or 'rrggbb') -> 'rrggbb', or nil when it is not a colour.
---@param color any
---@return string?
function M.color_key(color)
  if type(color) ~= 'string' then
    return nil
  end
  local hex = color:match('^#?(%x%x%x%x%x%x)$')
  return hex and hex:lower() or nil
end

--- Black or white, whichever reads better on `hex`.
local function contrast(hex)
  local r, g, b = rgb(hex)
  local luminance = 0.299 * r + 0.587 * g + 0.114 * b
  return luminance > 140 and '#000000' or '#ffffff'
end

local function blend(hex, other, alpha)
  local r1, g1, b1 = rgb(hex)
  local r2, g2, b2 = rgb(other)
  local function mix(a, b)
    return math.floor(a * alpha + b * (1 - alpha) + 0.5)
  end
  return ('#%02x%02x%02x'):format(mix(r1, r2), mix(g1, g2), mix(b1, b2))
end

local function background()
  local ok, normal = pcall(vim.api.nvim_get_hl, 0, { name = 'Normal', link = false })
  if ok and normal and normal.bg then
    return ('%06x'):format(normal.bg)
  end
  return vim.o.background == 'light' and 'ffffff' or '000000'
end

local function define(hex)
  vim.api.nvim_set_hl(0, 'PairprogCursor_' .. hex, { bg = '#' .. hex, fg = contrast(hex) })
  vim.api.nvim_set_hl(0, 'PairprogLabel_' .. hex, { bg = '#' .. hex, fg = contrast(hex), bold = true })
  vim.api.nvim_set_hl(0, 'PairprogSelection_' .. hex, { bg = blend(hex, background(), 0.35) })
  defined[hex] = true
end

--- The highlight groups of a participant's colour, defined on first use:
--- PairprogCursor_rrggbb (the cursor cell), PairprogLabel_rrggbb (the name),
--- PairprogSelection_rrggbb (selected text).
---@param color string '#rrggbb'
---@return {cursor: string, label: string, selection: string}
function M.groups(color)
  local hex = M.color_key(color) or '808080'
  if not defined[hex] then
    define(hex)
  end
  return {
    cursor = 'PairprogCursor_' .. hex,
    label = 'PairprogLabel_' .. hex,
    selection = 'PairprogSelection_' .. hex,
  }
end

--- A colour scheme cleared the groups: define them again.
function M.redefine()
  for hex in pairs(defined) do
    define(hex)
  end
end

local function clear()
  for buf in pairs(marked) do
    if vim.api.nvim_buf_is_valid(buf) then
      vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
    end
  end
  marked = {}
end

local function buffers_by_uri()
  local map = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.api.nvim_buf_get_name(buf) ~= '' then
      map[vim.uri_from_bufnr(buf)] = buf
    end
  end
  return map
end

local function before(r1, c1, r2, c2)
  return r1 < r2 or (r1 == r2 and c1 < c2)
end

local function draw_selection(buf, sel, cursor, groups, encoding)
  local hrow, hcol = position.to_buf(buf, sel.head, encoding)
  local arow, acol = position.to_buf(buf, sel.anchor or sel.head, encoding)
  if arow ~= hrow or acol ~= hcol then
    local srow, scol, erow, ecol = arow, acol, hrow, hcol
    if before(hrow, hcol, arow, acol) then
      srow, scol, erow, ecol = hrow, hcol, arow, acol
    end
    vim.api.nvim_buf_set_extmark(buf, M.ns, srow, scol, {
      end_row = erow,
      end_col = ecol,
      hl_group = groups.selection,
      priority = 150,
      strict = false,
    })
  end
  local line = vim.api.nvim_buf_get_lines(buf, hrow, hrow + 1, false)[1] or ''
  if hcol < #line then
    -- The cell under the cursor, in the participant's colour.
    vim.api.nvim_buf_set_extmark(buf, M.ns, hrow, hcol, {
      end_row = hrow,
      end_col = hcol + position.char_len(line, hcol),
      hl_group = groups.cursor,
      priority = 200,
      strict = false,
    })
  else
    -- At the end of the line there is no cell: draw one.
    vim.api.nvim_buf_set_extmark(buf, M.ns, hrow, hcol, {
      virt_text = { { ' ', groups.cursor } },
      virt_text_pos = 'overlay',
      priority = 200,
      strict = false,
    })
  end
  -- The name, anchored at the cursor.
  vim.api.nvim_buf_set_extmark(buf, M.ns, hrow, hcol, {
    virt_text = { { ' ' .. cursor.name .. ' ', groups.label } },
    virt_text_pos = M.label_position,
    hl_mode = 'combine',
    priority = 200,
    strict = false,
  })
end

--- Draws every collaborator's cursors in the loaded buffers, replacing what was drawn
--- before: someone no longer listed (they left, or moved to a document not open here)
--- disappears.
---@param encoding string the client's offset_encoding
function M.render(encoding)
  clear()
  local bufs = buffers_by_uri()
  for _, cursor in ipairs(M.state.cursors or {}) do
    local buf = bufs[cursor.uri]
    if buf then
      local groups = M.groups(cursor.color)
      for _, sel in ipairs(cursor.selections or {}) do
        if sel.head then
          draw_selection(buf, sel, cursor, groups, encoding)
          marked[buf] = true
        end
      end
    end
  end
end

--- A $/pairprog/presence arrived (params mirror protocol/src/editor.rs PresenceParams).
---@param params table
---@param encoding string
function M.update(params, encoding)
  local function list(v)
    return type(v) == 'table' and v or {}
  end
  M.state = {
    room = type(params.room) == 'string' and params.room or nil,
    connection = type(params.connection) == 'string' and params.connection or 'disconnected',
    you = type(params.you) == 'table' and params.you or nil,
    participants = list(params.participants),
    cursors = list(params.cursors),
  }
  M.render(encoding)
end

--- The client stopped: nobody to show.
function M.reset()
  M.state = { room = nil, connection = 'disconnected', you = nil, participants = {}, cursors = {} }
  clear()
end

--- Collaborators' cursors drawn in `bufnr`: { name, row, col } (0-based row, byte col),
--- read back from the extmarks.
---@param bufnr integer?
---@return {name: string, row: integer, col: integer, hl: string}[]
function M.drawn(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local out = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, M.ns, 0, -1, { details = true })) do
    local details = mark[4]
    local chunk = details.virt_text and details.virt_text[1]
    if chunk and chunk[2] and chunk[2]:match('^PairprogLabel_') then
      out[#out + 1] = { name = vim.trim(chunk[1]), row = mark[2], col = mark[3], hl = chunk[2] }
    end
  end
  return out
end

--- The statusline text: '' when pairprog is not running, else room, people and state.
---@param running boolean
---@return string
function M.statusline(running)
  if not running then
    return ''
  end
  local s = M.state
  if not s.room then
    return 'pairprog: no room'
  end
  if s.connection ~= 'connected' then
    -- Offline, nobody knows who is still there: a count here would differ between the
    -- two sides of one outage ("1 person" on one, "2 people" on the other).
    return ('pairprog: %s · %s'):format(s.room, s.connection)
  end
  local people = #s.participants + (s.you and 1 or 0)
  return ('pairprog: %s · %d %s · %s'):format(s.room, people, people == 1 and 'person' or 'people', s.connection)
end

return M
