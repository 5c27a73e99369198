-- Rooms you created or joined, remembered for `:Pairprog join <Tab>`: the id (or
-- id#secret link) is also in a register, but the next yank replaces the unnamed one, so
-- the last few are kept in a file under stdpath('state') as well.

local M = {}

M.LIMIT = 10

--- The file the rooms are kept in (one per line, newest first).
---@return string
function M.file()
  return vim.fs.joinpath(vim.fn.stdpath('state'), 'pairprog', 'rooms')
end

--- Whether `s` looks like a room id or an id#secret link.
---@param s any
---@return boolean
function M.is_room(s)
  if type(s) ~= 'string' then
    return false
  end
  return s:match('^[%w_%-]+$') ~= nil or s:match('^[%w_%-]+#[%w_%-]+$') ~= nil
end

--- The remembered rooms, newest first.
---@return string[]
function M.list()
  local ok, lines = pcall(vim.fn.readfile, M.file())
  if not ok or type(lines) ~= 'table' then
    return {}
  end
  return vim.tbl_filter(M.is_room, lines)
end

--- Remembers `room` first; keeps at most M.LIMIT. Failing to write is not an error.
---@param room string
function M.remember(room)
  if not M.is_room(room) then
    return
  end
  local rooms = { room }
  for _, r in ipairs(M.list()) do
    if r ~= room and #rooms < M.LIMIT then
      rooms[#rooms + 1] = r
    end
  end
  pcall(vim.fn.mkdir, vim.fs.dirname(M.file()), 'p')
  pcall(vim.fn.writefile, rooms, M.file())
end

--- Completion candidates: the clipboard and unnamed registers when they hold a room,
--- then the remembered rooms; no duplicates.
---@return string[]
function M.candidates()
  local out, seen = {}, {}
  local function add(r)
    if M.is_room(r) and not seen[r] then
      seen[r] = true
      out[#out + 1] = r
    end
  end
  if vim.fn.has('clipboard') == 1 then
    local ok, reg = pcall(vim.fn.getreg, '+')
    if ok then
      add(vim.trim(reg))
    end
  end
  add(vim.trim(vim.fn.getreg('"')))
  for _, r in ipairs(M.list()) do
    add(r)
  end
  return out
end

return M
