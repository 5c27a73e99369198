-- Encoding conversions between LSP positions and byte columns.
local T = ...
local position = require('pairprog.position')

-- 'a' (1 byte), 'é' (2 bytes, 1 UTF-16 unit), '😀' (4 bytes, 2 UTF-16 units), 'b'.
local line = 'aé😀b'

T.test('byte_col in each encoding', function()
  T.eq(
    { 0, 1, 3, 7, 8 },
    vim.tbl_map(function(c)
      return position.byte_col(line, c, 'utf-8')
    end, { 0, 1, 3, 7, 8 })
  )
  T.eq(
    { 0, 1, 3, 7, 8 },
    vim.tbl_map(function(c)
      return position.byte_col(line, c, 'utf-16')
    end, { 0, 1, 2, 4, 5 })
  )
  T.eq(
    { 0, 1, 3, 7, 8 },
    vim.tbl_map(function(c)
      return position.byte_col(line, c, 'utf-32')
    end, { 0, 1, 2, 3, 4 })
  )
end)

T.test('byte_col clamps past the end', function()
  T.eq(8, position.byte_col(line, 99, 'utf-16'))
  T.eq(8, position.byte_col(line, 99, 'utf-8'))
  T.eq(0, position.byte_col('', 5, 'utf-32'))
end)

T.test('character in each encoding', function()
  T.eq(
    { 0, 1, 3, 7, 8 },
    vim.tbl_map(function(b)
      return position.character(line, b, 'utf-8')
    end, { 0, 1, 3, 7, 8 })
  )
  T.eq(
    { 0, 1, 2, 4, 5 },
    vim.tbl_map(function(b)
      return position.character(line, b, 'utf-16')
    end, { 0, 1, 3, 7, 8 })
  )
  T.eq(
    { 0, 1, 2, 3, 4 },
    vim.tbl_map(function(b)
      return position.character(line, b, 'utf-32')
    end, { 0, 1, 3, 7, 8 })
  )
end)

T.test('to_buf and from_buf', function()
  local buf = T.buffer({ 'x', line })
  T.eq({ 1, 7 }, { position.to_buf(buf, { line = 1, character = 4 }, 'utf-16') })
  T.eq({ 1, 8 }, { position.to_buf(buf, { line = 5, character = 0 }, 'utf-16') }, 'past the last line')
  T.eq({ line = 1, character = 4 }, position.from_buf(buf, 1, 7, 'utf-16'))
  T.eq({ line = 1, character = 3 }, position.from_buf(buf, 1, 7, 'utf-32'))
  T.eq({ line = 1, character = 7 }, position.from_buf(buf, 1, 7, 'utf-8'))
end)

T.test('char_len', function()
  T.eq({ 1, 2, 4, 1, 0 }, {
    position.char_len(line, 0),
    position.char_len(line, 1),
    position.char_len(line, 3),
    position.char_len(line, 7),
    position.char_len(line, 8),
  })
end)
