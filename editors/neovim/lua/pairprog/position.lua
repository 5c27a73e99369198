-- LSP positions ({line, character} in the negotiated encoding) <-> Neovim positions
-- (0-based row, byte column). pairprog offers utf-8 first, so usually nothing converts;
-- utf-16 and utf-32 go through vim.str_byteindex / vim.str_utfindex.

local util = require('pairprog.util')

local M = {}

--- Byte length of the UTF-8 character starting at byte `col` (0-based) of `line`.
---@param line string
---@param col integer
---@return integer
function M.char_len(line, col)
  local b = line:byte(col + 1)
  if not b then
    return 0
  elseif b < 0x80 then
    return 1
  elseif b < 0xE0 then
    return 2
  elseif b < 0xF0 then
    return 3
  end
  return 4
end

--- Byte column in `line` of LSP `character` counted in `encoding`, clamped to the line.
---@param line string
---@param character integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.byte_col(line, character, encoding)
  if character <= 0 or #line == 0 then
    return 0
  end
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if util.has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if not ok or type(col) ~= 'number' then
    return #line
  end
  return math.min(col, #line)
end

--- LSP character (in `encoding`) of byte column `col` of `line`.
---@param line string
---@param col integer
---@param encoding string
---@return integer
function M.character(line, col, encoding)
  col = math.max(0, math.min(col, #line))
  if encoding == 'utf-8' or col == 0 then
    return col
  end
  if util.has_011 then
    return vim.str_utfindex(line, encoding, col, false)
  end
  local ok, c32, c16 = pcall(vim.str_utfindex, line, col)
  if not ok then
    return col
  end
  return encoding == 'utf-16' and c16 or c32
end

--- The buffer position (row, byte col) of an LSP position, clamped to the buffer.
---@param bufnr integer
---@param pos {line: integer, character: integer}
---@param encoding string
---@return integer row, integer col
function M.to_buf(bufnr, pos, encoding)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local row = pos.line
  if row >= count then
    row = count - 1
    local last = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    return row, #last
  end
  row = math.max(row, 0)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return row, M.byte_col(line, pos.character, encoding)
end

--- The LSP position of (row, byte col) in the buffer.
---@param bufnr integer
---@param row integer
---@param col integer
---@param encoding string
---@return {line: integer, character: integer}
function M.from_buf(bufnr, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return { line = row, character = M.character(line, col, encoding) }
end

return M
