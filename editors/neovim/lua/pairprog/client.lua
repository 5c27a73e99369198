-- The pairprog-lsp client: one per workspace root, attached to every file buffer under
-- it; its workspace/applyEdit checks versions exactly; $/pairprog/presence draws cursors.
--
-- Versions. Neovim stamps didChange with b:changedtick (one per change, so it jumps) and
-- opens documents at version 0 (0.11: vim.lsp.util.buf_versions[buf], which stays 0 until
-- the buffer's first change after it was attached). Stock Neovim skips its version check
-- for 0, so pairprog-lsp, recognising clientInfo.name "Neovim", holds collaborators' edits
-- for a document until its first didChange. This plugin checks every version exactly,
-- itself. So that edits need not wait for the user's first keystroke, right after
-- didOpen it sends one didChange that changes nothing (an empty replacement at 0:0)
-- stamped with the buffer's real b:changedtick: the server learns a non-zero version
-- without any change to the text, and edits flow at once.
--
-- The version this plugin compares with is the one it last reported: b:changedtick at
-- that sync, then the changedtick of each change (tracked with nvim_buf_attach's
-- on_lines, the same callback from which Neovim sends didChange, synchronously since
-- debounce_text_changes = 0). b:changedtick itself is not used: writing the buffer
-- bumps it with no didChange. The didOpen version (0) is accepted as well as long as the
-- buffer has not changed since attach, which is exact: any change fires on_lines.

local util = require('pairprog.util')
local presence = require('pairprog.presence')
local cursor = require('pairprog.cursor')
local position = require('pairprog.position')
local message = require('pairprog.message')

local M = {}

M.NAME = 'pairprog'

--- Per buffer: { version = last version reported, open_version = didOpen's version or
--- nil once the buffer changed, name = buffer name at the last sync }.
---@type table<integer, {version: integer, open_version: integer?, name: string}>
M.tracked = {}
local listening = {} ---@type table<integer, true> buffers with our nvim_buf_attach

--- workspace/applyEdit answers so far (for :checkhealth and tests).
M.stats = { applied = 0, refused = 0 }

M.config = nil ---@type table?
M.root = nil ---@type string?

--- The running pairprog client for the configured root, if any.
---@return vim.lsp.Client?
function M.get()
  for _, client in ipairs(vim.lsp.get_clients({ name = M.NAME })) do
    if client.root_dir == M.root or M.root == nil then
      return client
    end
  end
  return nil
end

--- The version pairprog-lsp knows for `bufnr` (see the top of this file), and whether
--- `version` may be applied.
---@param bufnr integer
---@param version integer
---@return boolean
function M.version_matches(bufnr, version)
  local t = M.tracked[bufnr]
  if not t then
    return false
  end
  return version == t.version or (t.open_version ~= nil and version == t.open_version)
end

local function find_buf(uri)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.api.nvim_buf_get_name(buf) ~= '' and vim.uri_from_bufnr(buf) == uri then
      return buf
    end
  end
  return nil
end

--- Rewrites an edit reaching past the buffer's final newline into the same change
--- before it. With 'eol' set, Neovim's text ends with "\n" and the position after it is
--- (line_count, 0); vim.lsp.util.apply_text_edits appends whole lines there, which
--- would add one newline too many. Replacing up to (line_count, 0) with text ending in
--- "\n" is the same as replacing up to the end of the last line with that text less its
--- "\n"; inserting there is inserting "\n" .. text-less-"\n" at the end of the last line.
---@param bufnr integer
---@param edit table lsp.TextEdit (modified in place)
---@param encoding string
function M.normalize_final_newline(bufnr, edit, encoding)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local s, e = edit.range.start, edit.range['end']
  if not (vim.bo[bufnr].eol and e.line == count and e.character == 0) then
    return
  end
  local text = edit.newText:gsub('\r\n?', '\n')
  if text:sub(-1) ~= '\n' then
    return
  end
  local last = vim.api.nvim_buf_get_lines(bufnr, count - 1, count, false)[1] or ''
  local line_end = { line = count - 1, character = position.character(last, #last, encoding) }
  if s.line == count and s.character == 0 then
    edit.range = { start = line_end, ['end'] = line_end }
    edit.newText = '\n' .. text:sub(1, -2)
  else
    edit.range = { start = s, ['end'] = line_end }
    edit.newText = text:sub(1, -2)
  end
end

--- Decides a workspace/applyEdit (params mirror LSP ApplyWorkspaceEditParams): applied
--- only when every versioned document's version is the one this buffer last reported.
---@param params table
---@param encoding string
---@return {applied: boolean, failureReason: string?}
function M.apply_edit(params, encoding)
  local edit = params and params.edit
  if type(edit) ~= 'table' then
    return { applied = false, failureReason = 'no edit' }
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument then
      local doc = change.textDocument
      local buf = find_buf(doc.uri)
      if not buf then
        return { applied = false, failureReason = 'document is not open: ' .. tostring(doc.uri) }
      end
      if type(doc.version) == 'number' then
        if not M.version_matches(buf, doc.version) then
          local t = M.tracked[buf]
          return {
            applied = false,
            failureReason = ('document has changed: version %s, edit for %d'):format(
              t and tostring(t.version) or '?',
              doc.version
            ),
          }
        end
      end
      for _, text_edit in ipairs(change.edits or {}) do
        M.normalize_final_newline(buf, text_edit, encoding)
      end
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  return { applied = true }
end

local function on_apply_edit(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local result = M.apply_edit(params, client and client.offset_encoding or 'utf-16')
  if result.applied then
    M.stats.applied = M.stats.applied + 1
  else
    M.stats.refused = M.stats.refused + 1
  end
  return result
end

local function on_presence(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if type(params) ~= 'table' then
    return
  end
  local was = presence.state.connection
  presence.update(params, client and client.offset_encoding or 'utf-16')
  if client and was ~= 'connected' and presence.state.connection == 'connected' then
    -- Just joined (or reconnected): let the others see where we are.
    cursor.send_now(client)
  end
  vim.cmd('redrawstatus')
  vim.api.nvim_exec_autocmds('User', { pattern = 'PairprogPresence', modeline = false })
end

--- Tells the server the buffer's real version without changing its text.
---@param client vim.lsp.Client
---@param bufnr integer
function M.sync_version(client, bufnr)
  if not vim.api.nvim_buf_is_loaded(bufnr) or not vim.lsp.buf_is_attached(bufnr, client.id) then
    return
  end
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local t = M.tracked[bufnr]
  local name = vim.api.nvim_buf_get_name(bufnr)
  M.tracked[bufnr] = {
    version = tick,
    -- What didOpen said stays valid until the first change.
    open_version = t and t.open_version,
    name = name,
  }
  util.notify(client, 'textDocument/didChange', {
    textDocument = { uri = vim.uri_from_bufnr(bufnr), version = tick },
    contentChanges = {
      { range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } }, text = '' },
    },
  })
end

function M.listen(bufnr)
  if listening[bufnr] then
    return
  end
  listening[bufnr] = true
  vim.api.nvim_buf_attach(bufnr, false, {
    on_lines = function(_, buf, tick)
      if not listening[buf] then
        return true
      end
      local t = M.tracked[buf]
      if t then
        t.version = tick
        t.open_version = nil
      end
    end,
    on_reload = function(_, buf)
      -- Neovim sent didClose and didOpen again (at a version it chose): sync once more
      -- after it, whatever order these callbacks run in.
      vim.schedule(function()
        local client = M.get()
        if client and M.tracked[buf] then
          M.tracked[buf].open_version = nil
          M.sync_version(client, buf)
        end
      end)
    end,
    on_detach = function(_, buf)
      listening[buf] = nil
      M.tracked[buf] = nil
    end,
  })
  vim.api.nvim_create_autocmd('BufWritePost', {
    group = vim.api.nvim_create_augroup('pairprog_buf_' .. bufnr, { clear = true }),
    buffer = bufnr,
    desc = 'pairprog: re-sync the version after a rename',
    callback = function(ev)
      vim.schedule(function()
        local t = M.tracked[ev.buf]
        local client = M.get()
        -- A write under a new name made Neovim send didClose + didOpen (version 0).
        if client and t and t.name ~= vim.api.nvim_buf_get_name(ev.buf) then
          t.open_version = 0
          M.sync_version(client, ev.buf)
        end
      end)
    end,
  })
end

local function on_attach(client, bufnr)
  -- Called right after Neovim sent didOpen for this buffer, before any change.
  local open_version = vim.lsp.util.buf_versions and rawget(vim.lsp.util.buf_versions, bufnr) or 0
  M.tracked[bufnr] = { version = open_version or 0, open_version = open_version or 0, name = '' }
  M.listen(bufnr)
  M.sync_version(client, bufnr)
end

local function on_exit(code, signal, client_id)
  vim.schedule(function()
    presence.reset()
    cursor.stop()
    vim.cmd('redrawstatus')
    if code ~= 0 then
      message.show(
        ('pairprog: pairprog-lsp (client %d) exited with code %d%s; see :LspLog'):format(
          client_id,
          code,
          signal ~= 0 and (' (signal ' .. signal .. ')') or ''
        ),
        vim.log.levels.WARN
      )
    end
  end)
end

--- The capabilities we offer: Neovim's own, with utf-8 first among the position
--- encodings (extmark columns are bytes, so utf-8 needs no conversion).
---@return table
function M.capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.general = caps.general or {}
  caps.general.positionEncodings = { 'utf-8', 'utf-16', 'utf-32' }
  -- This client compares every version of workspace/applyEdit exactly, 0 included: a
  -- server that reads this need not hold edits at version 0 (see the top of this file).
  caps.experimental = caps.experimental or {}
  caps.experimental.pairprog = { exactVersionCheck = true }
  return caps
end

--- The vim.lsp.start config for the current settings, or nil and why not.
---@return table? config, string? problem
function M.lsp_config()
  local cfg = assert(M.config, 'pairprog: setup() first')
  local path, problem = require('pairprog.config').lsp_path(cfg)
  if not path then
    return nil, problem
  end
  return {
    name = M.NAME,
    cmd = { path },
    root_dir = M.root,
    workspace_folders = { { uri = vim.uri_from_fname(M.root), name = M.root } },
    -- Mirrors lsp/src/settings.rs Options { relay, name, room }.
    init_options = { relay = cfg.relay, name = cfg.name, room = cfg.room },
    flags = { debounce_text_changes = 0 },
    capabilities = M.capabilities(),
    handlers = {
      ['workspace/applyEdit'] = on_apply_edit,
      ['$/pairprog/presence'] = on_presence,
      -- Never a prompt: see lua/pairprog/message.lua.
      ['window/showMessage'] = message.on_show_message,
      ['window/showMessageRequest'] = message.on_show_message_request,
    },
    on_attach = on_attach,
    on_exit = on_exit,
  }
end

local warned = false
local function warn_once(problem)
  if not warned then
    warned = true
    message.show('pairprog: ' .. problem, vim.log.levels.ERROR)
  end
end

--- Whether `bufnr` is a file of the workspace.
---@param bufnr integer
---@return boolean
function M.in_workspace(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then
    return false
  end
  name = vim.fs.normalize(vim.fn.fnamemodify(name, ':p'))
  local root = M.root
  return root ~= nil and (root == '/' and name:sub(1, 1) == '/' or name:sub(1, #root + 1) == root .. '/')
end

--- Attaches `bufnr` to the client (started on first use) when it is a workspace file.
---@param bufnr integer
---@return integer? client_id
function M.attach(bufnr)
  if not M.in_workspace(bufnr) or not vim.api.nvim_buf_is_loaded(bufnr) then
    return nil
  end
  local config, problem = M.lsp_config()
  if not config then
    warn_once(problem)
    return nil
  end
  return vim.lsp.start(config, { bufnr = bufnr })
end

--- The client, started without a buffer when none is running.
---@return vim.lsp.Client? client, string? problem
function M.ensure()
  local client = M.get()
  if client then
    return client
  end
  local config, problem = M.lsp_config()
  if not config then
    return nil, problem
  end
  local id
  if util.has_011 then
    id = vim.lsp.start(config, { attach = false })
  else
    id = vim.lsp.start_client(config)
  end
  if id then
    -- Share the open workspace buffers too.
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if M.in_workspace(buf) and vim.api.nvim_buf_is_loaded(buf) then
        vim.lsp.buf_attach_client(buf, id)
      end
    end
  end
  return id and vim.lsp.get_client_by_id(id) or nil, id and nil or 'could not start pairprog-lsp'
end

--- Runs `fn(client)` once the client is initialized (at most `timeout_ms` later).
---@param fn fun(client: vim.lsp.Client?, problem: string?)
---@param timeout_ms integer?
function M.when_ready(fn, timeout_ms)
  local client, problem = M.ensure()
  if not client then
    return fn(nil, problem)
  end
  local deadline = vim.uv.now() + (timeout_ms or 10000)
  local function poll()
    if client.initialized then
      return fn(client)
    end
    if util.is_stopped(client) or vim.uv.now() > deadline then
      return fn(nil, 'pairprog-lsp did not initialize')
    end
    vim.defer_fn(poll, 20)
  end
  poll()
end

--- Recovered copies are named `<file>.<unix seconds>` under `.../recovered/<room>/`:
--- give them the file type of `<file>`.
function M.recovered_filetype()
  vim.filetype.add({
    pattern = {
      ['.*/recovered/[^/]+/.*%.%d+'] = {
        function(path)
          return vim.filetype.match({ filename = (path:gsub('%.%d+$', '')) })
        end,
        { priority = 10 },
      },
    },
  })
end

--- Starts watching buffers (setup()).
---@param cfg table resolved config
function M.enable(cfg)
  M.config = cfg
  M.root = require('pairprog.config').root_dir(cfg)
  presence.label_position = cfg.label_position
  cursor.throttle_ms = cfg.cursor_throttle_ms
  local group = vim.api.nvim_create_augroup('pairprog', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = group,
    desc = 'pairprog: share workspace files',
    callback = function(ev)
      M.attach(ev.buf)
    end,
  })
  vim.api.nvim_create_autocmd({ 'CursorMoved', 'CursorMovedI', 'ModeChanged', 'BufEnter' }, {
    group = group,
    desc = 'pairprog: send the cursor',
    callback = function()
      if presence.state.room then
        cursor.moved(M.get)
      end
    end,
  })
  M.recovered_filetype()
  vim.api.nvim_create_autocmd('ColorScheme', {
    group = group,
    desc = 'pairprog: define the cursor colours again',
    callback = presence.redefine,
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      M.attach(buf)
    end
  end
end

return M
