-- Drawing collaborators from $/pairprog/presence, the statusline and status text.
local T = ...
local presence = require('pairprog.presence')

local function presence_for(buf, cursors)
  return {
    room = 'r1',
    connection = 'connected',
    you = { id = 'me', name = 'me', color = '#000000' },
    participants = { { id = 'p1', name = 'ana', color = '#E6194B' } },
    cursors = cursors,
  }
end

T.test('cursor with name, in the participant colour; removed when no longer listed', function()
  local buf = T.buffer({ 'é😀xyz', 'second' })
  local uri = vim.uri_from_bufnr(buf)
  presence.update(
    presence_for(buf, {
      {
        participantId = 'p1',
        name = 'ana',
        color = '#E6194B',
        uri = uri,
        path = 'f.txt',
        -- UTF-16 character 3 = after the emoji = byte 6.
        selections = { { anchor = { line = 0, character = 3 }, head = { line = 0, character = 3 } } },
      },
    }),
    'utf-16'
  )
  T.eq({ { name = 'ana', row = 0, col = 6, hl = 'PairprogLabel_e6194b' } }, presence.drawn(buf))
  local hl = vim.api.nvim_get_hl(0, { name = 'PairprogCursor_e6194b' })
  T.eq(0xe6194b, hl.bg)
  presence.update(presence_for(buf, {}), 'utf-16')
  T.eq({}, presence.drawn(buf))
  T.eq(0, #vim.api.nvim_buf_get_extmarks(buf, presence.ns, 0, -1, {}))
end)

T.test('a selection is a highlighted range; the cursor at end of line still shows', function()
  local buf = T.buffer({ 'abc', 'defg' })
  presence.update(
    presence_for(buf, {
      {
        participantId = 'p1',
        name = 'ana',
        color = '#3cb44b',
        uri = vim.uri_from_bufnr(buf),
        path = 'f.txt',
        selections = { { anchor = { line = 1, character = 4 }, head = { line = 0, character = 1 } } },
      },
    }),
    'utf-8'
  )
  local found
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, presence.ns, 0, -1, { details = true })) do
    if m[4].hl_group == 'PairprogSelection_3cb44b' then
      found = { m[2], m[3], m[4].end_row, m[4].end_col }
    end
  end
  T.eq({ 0, 1, 1, 4 }, found, 'selection range (ordered)')
  T.eq({ { name = 'ana', row = 0, col = 1, hl = 'PairprogLabel_3cb44b' } }, presence.drawn(buf))
  -- Head at the end of a line: drawn with an overlay cell.
  presence.update(
    presence_for(buf, {
      {
        participantId = 'p1',
        name = 'ana',
        color = '#3cb44b',
        uri = vim.uri_from_bufnr(buf),
        path = 'f.txt',
        selections = { { anchor = { line = 1, character = 4 }, head = { line = 1, character = 4 } } },
      },
    }),
    'utf-8'
  )
  T.eq({ { name = 'ana', row = 1, col = 4, hl = 'PairprogLabel_3cb44b' } }, presence.drawn(buf))
  presence.reset()
  T.eq({}, presence.drawn(buf))
end)

T.test('cursors in documents not open here are not drawn', function()
  local buf = T.buffer({ 'x' })
  presence.update(
    presence_for(buf, {
      {
        participantId = 'p1',
        name = 'ana',
        color = '#123456',
        uri = 'file:///elsewhere.txt',
        path = 'e',
        selections = {},
      },
    }),
    'utf-8'
  )
  T.eq({}, presence.drawn(buf))
end)

T.test('statusline', function()
  T.eq('', presence.statusline(false))
  presence.reset()
  T.eq('pairprog: no room', presence.statusline(true))
  presence.update(presence_for(0, {}), 'utf-8')
  T.eq('pairprog: r1 · 2 people · connected', presence.statusline(true))
  presence.update({
    room = 'r1',
    connection = 'reconnecting',
    you = { id = 'me', name = 'me', color = '#000000' },
    participants = {},
    cursors = {},
  }, 'utf-8')
  T.eq('pairprog: r1 · reconnecting', presence.statusline(true), 'no count while offline')
  presence.reset()
end)

T.test('local cursor as LSP selections', function()
  local buf = T.buffer({ 'é😀xyz' })
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_win_set_cursor(0, { 1, 6 })
  local cursor = require('pairprog.cursor')
  local pos = { line = 0, character = 3 }
  T.eq({ { anchor = pos, head = pos } }, cursor.selections(0, 'utf-16'))
  pos = { line = 0, character = 6 }
  T.eq({ { anchor = pos, head = pos } }, cursor.selections(0, 'utf-8'))
end)

T.test('status text lists participants and documents', function()
  local lines = require('pairprog').format_status({
    room = 'r1',
    connection = 'connected',
    you = { id = 'a', name = 'ana', color = '#111111' },
    participants = { { id = 'b', name = 'bo', color = '#222222' } },
    documents = {
      {
        path = 'src/a.rs',
        uri = 'file:///w/src/a.rs',
        revision = 4,
        synced = true,
        unsentToRelay = false,
        pendingToEditor = false,
      },
      {
        path = 'b.txt',
        uri = 'file:///w/b.txt',
        revision = 2,
        synced = false,
        unsentToRelay = true,
        pendingToEditor = false,
      },
    },
    roomDocuments = { 'src/a.rs', 'b.txt', 'c.md' },
    pendingEdits = 1,
  })
  T.eq({
    'room: r1 (connected)',
    'you: ana (#111111)',
    'participants (1 besides you):',
    '  bo (#222222)',
    'documents open here (2):',
    '  src/a.rs r4  synced',
    '  b.txt r2  unsent to relay',
    'documents in the room: src/a.rs, b.txt, c.md',
    'edits awaiting the relay: 1',
  }, lines)
end)
