-- pairprog: real-time pair programming in Neovim through pairprog-lsp.
--
-- require('pairprog') alone does nothing: setup(opts) starts watching buffers.

local M = {}

local SUBCOMMANDS = { 'create', 'join', 'leave', 'status', 'recovered' }

---@type table? the resolved options, once setup() ran
M.config = nil

--- Validates `opts` (see :help pairprog-options) and starts pairprog-lsp for the
--- workspace's file buffers. Raises an error naming a bad option.
---@param opts table?
function M.setup(opts)
  local cfg = require('pairprog.config').resolve(opts)
  M.config = cfg
  require('pairprog.client').enable(cfg)
end

local function ensure_setup()
  if not M.config then
    M.setup({})
  end
end

-- One line, never a hit-enter prompt (see lua/pairprog/message.lua).
local function notify(msg, level)
  require('pairprog.message').show('pairprog: ' .. msg, level)
end

local function error_text(err)
  if type(err) == 'table' then
    return err.message or vim.inspect(err)
  end
  return tostring(err)
end

--- Runs pairprog command `command` once the client is ready; `cb(err, result)`.
local function run(command, arguments, cb)
  ensure_setup()
  require('pairprog.client').when_ready(function(client, problem)
    if not client then
      return cb(problem)
    end
    require('pairprog.util').exec_cmd(client, command, arguments, function(err, result)
      if err then
        return cb(error_text(err))
      end
      cb(nil, result)
    end)
  end)
end

--- Puts `text` in the unnamed register, and in "+ when a clipboard is available.
---@param text string
---@return string[] registers written
function M.copy(text)
  local regs = {}
  vim.fn.setreg('"', text)
  regs[#regs + 1] = '"'
  if vim.fn.has('clipboard') == 1 and pcall(vim.fn.setreg, '+', text) then
    table.insert(regs, 1, '+')
  end
  return regs
end

--- Creates a room (pairprog.createRoom; answer mirrors protocol/src/editor.rs RoomResult
--- { roomId, secret?, readOnlySecret?, link? }), copies what others join with (the link
--- `id#secret` for a room with secrets, else the id) and says so. `cb(err, room_id)`.
---@param cb fun(err: string?, room: string?)?
function M.create(cb)
  run('pairprog.createRoom', nil, function(err, result)
    local room = type(result) == 'table' and result.roomId or nil
    if err or not room then
      notify('could not create a room: ' .. (err or 'no room id in the answer'), vim.log.levels.ERROR)
    else
      local link = type(result.link) == 'string' and result.link or room
      local regs = M.copy(link)
      require('pairprog.rooms').remember(link)
      local names = { ['"'] = '"" (unnamed)', ['+'] = '"+ (clipboard)' }
      local where = table.concat(
        vim.tbl_map(function(r)
          return names[r]
        end, regs),
        ' and '
      )
      local read_only = ''
      if type(result.readOnlySecret) == 'string' then
        read_only = (' (watch only: %s#%s)'):format(room, result.readOnlySecret)
      end
      notify(('room %s created, link in %s; others run :Pairprog join %s%s'):format(room, where, link, read_only))
    end
    if cb then
      cb(err, room)
    end
  end)
end

--- Joins room `id` (or a link ending in it, or `id#secret`) with pairprog.joinRoom
--- (RoomResult). The argument goes to pairprog-lsp as typed; it parses the secret.
---@param id string
---@param cb fun(err: string?, room: string?)?
function M.join(id, cb)
  if type(id) ~= 'string' or not id:match('%S') then
    notify('join needs a room id: :Pairprog join ROOM_ID', vim.log.levels.ERROR)
    if cb then
      cb('no room id')
    end
    return
  end
  run('pairprog.joinRoom', { vim.trim(id) }, function(err, result)
    local room = type(result) == 'table' and result.roomId or nil
    if err then
      notify(('could not join %s: %s'):format(id, err), vim.log.levels.ERROR)
    else
      require('pairprog.rooms').remember(vim.trim(id))
      notify('joined room ' .. tostring(room))
    end
    if cb then
      cb(err, room)
    end
  end)
end

--- Leaves the room (pairprog.leaveRoom).
---@param cb fun(err: string?)?
function M.leave(cb)
  run('pairprog.leaveRoom', nil, function(err)
    if err then
      notify('could not leave: ' .. err, vim.log.levels.ERROR)
    else
      notify('left the room')
    end
    if cb then
      cb(err)
    end
  end)
end

--- Lines describing a pairprog.status answer (mirrors protocol/src/editor.rs
--- StatusResult { room, connection, you, participants, documents: DocumentStatus[],
--- roomDocuments, pendingEdits }).
---@param status table
---@return string[]
function M.format_status(status)
  local lines = {}
  local function person(p)
    return ('%s (%s)'):format(tostring(p.name), tostring(p.color))
  end
  local room = type(status.room) == 'string' and status.room or nil
  lines[#lines + 1] = ('room: %s (%s)'):format(room or 'none', tostring(status.connection))
  if type(status.you) == 'table' then
    lines[#lines + 1] = 'you: ' .. person(status.you)
  end
  local others = type(status.participants) == 'table' and status.participants or {}
  lines[#lines + 1] = ('participants (%d besides you):'):format(#others)
  for _, p in ipairs(others) do
    lines[#lines + 1] = '  ' .. person(p)
  end
  local docs = type(status.documents) == 'table' and status.documents or {}
  lines[#lines + 1] = ('documents open here (%d):'):format(#docs)
  for _, d in ipairs(docs) do
    local state = d.synced and 'synced'
      or (d.revision == nil or d.revision == vim.NIL) and 'not shared'
      or table.concat(
        vim.tbl_filter(function(s)
          return s ~= ''
        end, {
          d.unsentToRelay and 'unsent to relay' or '',
          d.pendingToEditor and 'pending to editor' or '',
        }),
        ', '
      )
    local rev = (d.revision ~= nil and d.revision ~= vim.NIL) and (' r' .. tostring(d.revision)) or ''
    lines[#lines + 1] = ('  %s%s  %s'):format(tostring(d.path), rev, state ~= '' and state or 'syncing')
  end
  local room_docs = type(status.roomDocuments) == 'table' and status.roomDocuments or {}
  if #room_docs > 0 then
    lines[#lines + 1] = 'documents in the room: ' .. table.concat(room_docs, ', ')
  end
  lines[#lines + 1] = 'edits awaiting the relay: ' .. tostring(status.pendingEdits or 0)
  return lines
end

--- Shows participants and documents (pairprog.status). `cb(err, status)`.
---@param cb fun(err: string?, status: table?)?
function M.status(cb)
  run('pairprog.status', nil, function(err, result)
    if err then
      notify('status failed: ' .. err, vim.log.levels.ERROR)
    else
      M.show_status(M.format_status(result or {}))
    end
    if cb then
      cb(err, result)
    end
  end)
end

--- Shows status lines in a floating window that keeps neither focus nor keys (it
--- closes when the cursor moves), and their first line as a message.
---@param lines string[]
function M.show_status(lines)
  local shown = vim.deepcopy(lines)
  local history = require('pairprog.message').history
  if #history > 0 then
    shown[#shown + 1] = 'recent messages:'
    for i = math.max(1, #history - 4), #history do
      shown[#shown + 1] = '  ' .. history[i].text
    end
  end
  pcall(vim.lsp.util.open_floating_preview, shown, 'text', { border = 'rounded', title = ' pairprog ', focus = false })
  notify(lines[1] or 'no status')
end

--- Opens the newest copy of your own text that pairprog-lsp kept when a room's version
--- replaced it, in a split.
function M.recovered()
  local list = require('pairprog.message').recovered
  local path = list[#list]
  if not path then
    notify('no recovered copy in this session')
    return
  end
  vim.cmd.split(vim.fn.fnameescape(path))
end

--- For the statusline: "pairprog: ROOM · N people · connected", "pairprog: no room"
--- when running outside a room, '' when pairprog-lsp is not running.
---@return string
function M.statusline()
  local running = M.config ~= nil and require('pairprog.client').get() ~= nil
  return require('pairprog.presence').statusline(running)
end

--- The last $/pairprog/presence (mirrors protocol/src/editor.rs PresenceParams).
---@return table
function M.presence()
  return vim.deepcopy(require('pairprog.presence').state)
end

--- Collaborators' cursors drawn in `bufnr` (default current): { name, row, col, hl }.
---@param bufnr integer?
function M.remote_cursors(bufnr)
  return require('pairprog.presence').drawn(bufnr)
end

--- The running pairprog-lsp client, if any.
---@return vim.lsp.Client?
function M.client()
  return require('pairprog.client').get()
end

--- :Pairprog {subcommand} [args].
---@param args string[]
function M.command(args)
  local sub = args[1]
  if sub == 'create' then
    M.create()
  elseif sub == 'join' then
    M.join(args[2])
  elseif sub == 'leave' then
    M.leave()
  elseif sub == 'status' then
    M.status()
  elseif sub == 'recovered' then
    M.recovered()
  else
    notify(
      ('unknown subcommand %q; use one of: %s'):format(tostring(sub), table.concat(SUBCOMMANDS, ', ')),
      vim.log.levels.ERROR
    )
  end
end

--- Completion of :Pairprog.
---@param arglead string
---@param cmdline string
---@return string[]
function M.complete(arglead, cmdline)
  local words = vim.split(cmdline, '%s+', { trimempty = true })
  local n = #words + (cmdline:match('%s$') and 1 or 0)
  if n <= 2 then
    return vim.tbl_filter(function(s)
      return s:sub(1, #arglead) == arglead
    end, SUBCOMMANDS)
  end
  if words[2] == 'join' and n == 3 then
    return vim.tbl_filter(function(id)
      return id:sub(1, #arglead) == arglead
    end, require('pairprog.rooms').candidates())
  end
  return {}
end

return M
