-- The workspace/applyEdit decision: applied only at the version last reported.
local T = ...
local client = require('pairprog.client')

local function edit(buf, version, range, text)
  return {
    edit = {
      documentChanges = {
        {
          textDocument = { uri = vim.uri_from_bufnr(buf), version = version },
          edits = { { range = range, newText = text } },
        },
      },
    },
  }
end

local function at(l1, c1, l2, c2)
  return { start = { line = l1, character = c1 }, ['end'] = { line = l2 or l1, character = c2 or c1 } }
end

local function lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

T.test('applied at the tracked version', function()
  local buf = T.buffer({ 'hello' })
  client.tracked[buf] = { version = 7, name = '' }
  T.eq({ applied = true }, client.apply_edit(edit(buf, 7, at(0, 5), ' world'), 'utf-8'))
  T.eq({ 'hello world' }, lines(buf))
end)

T.test('refused at any other version, text unchanged', function()
  local buf = T.buffer({ 'hello' })
  client.tracked[buf] = { version = 7, name = '' }
  for _, v in ipairs({ 0, 6, 8 }) do
    local r = client.apply_edit(edit(buf, v, at(0, 0), 'X'), 'utf-8')
    T.eq(false, r.applied, 'version ' .. v)
    T.truthy(r.failureReason:find('document has changed', 1, true), r.failureReason)
  end
  T.eq({ 'hello' }, lines(buf))
end)

T.test('refused for a document that is not open', function()
  local r = client.apply_edit({
    edit = { documentChanges = { { textDocument = { uri = 'file:///nope/x.txt', version = 1 }, edits = {} } } },
  }, 'utf-8')
  T.eq(false, r.applied)
end)

T.test("didOpen's version 0 is accepted until the first change, then refused", function()
  local buf = T.buffer({ 'abc' })
  client.tracked[buf] = { version = 0, open_version = 0, name = '' }
  client.listen(buf)
  client.tracked[buf].version = vim.api.nvim_buf_get_changedtick(buf) -- as sync_version does
  T.eq(true, client.apply_edit(edit(buf, 0, at(0, 3), 'd'), 'utf-8').applied, 'at 0 before any change')
  T.eq({ 'abcd' }, lines(buf))
  -- That edit was a change: 0 no longer names this text, the new changedtick does.
  T.eq(false, client.apply_edit(edit(buf, 0, at(0, 0), 'X'), 'utf-8').applied, 'at 0 after a change')
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  T.eq(tick, client.tracked[buf].version, 'tracked version follows changedtick')
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'typed' })
  T.eq(false, client.apply_edit(edit(buf, tick, at(0, 0), 'X'), 'utf-8').applied, 'stale after typing')
  T.eq({ 'typed' }, lines(buf))
end)

T.test('writing the file bumps b:changedtick but not the version', function()
  local name = vim.fn.tempname() .. '.txt'
  local buf = T.buffer({ 'saved' }, name)
  client.tracked[buf] = { version = 0, open_version = nil, name = '' }
  client.listen(buf)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'saved!' })
  local version = client.tracked[buf].version
  vim.api.nvim_buf_call(buf, function()
    vim.cmd('silent write')
  end)
  T.truthy(vim.api.nvim_buf_get_changedtick(buf) > version, 'changedtick moved on write')
  T.eq(true, client.apply_edit(edit(buf, version, at(0, 6), '?'), 'utf-8').applied)
  T.eq({ 'saved!?' }, lines(buf))
end)

T.test('utf-16 positions are converted', function()
  local buf = T.buffer({ 'é😀x' })
  client.tracked[buf] = { version = 3, name = '' }
  -- After the emoji: UTF-16 character 3, byte 6.
  T.eq(true, client.apply_edit(edit(buf, 3, at(0, 3), '|'), 'utf-16').applied)
  T.eq({ 'é😀|x' }, lines(buf))
end)

T.test('an insert after the final newline does not add an empty line', function()
  -- "abc\n" + insert "x\n" at (1, 0) must give "abc\nx\n": lines { 'abc', 'x' }.
  local buf = T.buffer({ 'abc' })
  client.tracked[buf] = { version = 1, name = '' }
  T.eq(true, client.apply_edit(edit(buf, 1, at(1, 0), 'x\n'), 'utf-8').applied)
  T.eq({ 'abc', 'x' }, lines(buf))
  -- Replacing through the final newline: "abc\nx\n" -> "abc\nyz\n".
  T.eq(true, client.apply_edit(edit(buf, 1, at(1, 0, 2, 0), 'yz\n'), 'utf-8').applied)
  T.eq({ 'abc', 'yz' }, lines(buf))
  -- A new line in the middle is untouched.
  T.eq(true, client.apply_edit(edit(buf, 1, at(1, 0), 'mid\n'), 'utf-8').applied)
  T.eq({ 'abc', 'mid', 'yz' }, lines(buf))
end)

T.test('capabilities offer utf-8 first', function()
  local caps = client.capabilities()
  T.eq({ 'utf-8', 'utf-16', 'utf-32' }, caps.general.positionEncodings)
end)
