-- Options of require('pairprog').setup(): defaults, validation, resolution.

local util = require('pairprog.util')

local M = {}

M.DEFAULT_RELAY = 'ws://127.0.0.1:8787'

--- Every option and its meaning (see :help pairprog-options).
M.defaults = {
  -- Base URL of the relay (ws://, wss://, http:// or https://).
  relay = M.DEFAULT_RELAY,
  -- Display name shown to collaborators; nil means $USER.
  name = nil,
  -- Path of pairprog-lsp; nil means the one found on PATH.
  lsp_path = nil,
  -- A room to join as soon as pairprog-lsp starts (the `room` initialization option):
  -- its id, or `id#secret` for a room created with secrets.
  room = nil,
  -- The workspace root: a directory, or a function returning one; nil means the
  -- current directory at setup(). Documents are shared by their path relative to it.
  root_dir = nil,
  -- At most one $/pairprog/cursor per this many milliseconds.
  cursor_throttle_ms = 50,
  -- Where a collaborator's name is drawn: 'eol', 'inline', 'right_align' or 'overlay'.
  label_position = 'eol',
}

--- True for what pairprog-lsp accepts as a room to join: an id, or `id#secret` (the
--- link `pairprog.createRoom` reports for a room with secrets; see lsp/src/commands.rs).
---@param v any
---@return boolean
function M.is_room_link(v)
  return type(v) == 'string' and (v:match('^[%w_%-]+$') ~= nil or v:match('^[%w_%-]+#[%w_%-]+$') ~= nil)
end

local LABEL_POSITIONS = { eol = true, inline = true, right_align = true, overlay = true }

local function is_relay_url(v)
  return type(v) == 'string' and (v:match('^wss?://[^/%s]+') or v:match('^https?://[^/%s]+')) ~= nil
end

local function non_empty(v)
  return type(v) == 'string' and v:match('%S') ~= nil
end

--- Validates `opts` (a table of the options above, or nil). Raises an error naming the
--- first bad option.
---@param opts table?
function M.validate(opts)
  util.validate('opts', opts, 'table', true)
  if opts == nil then
    return
  end
  local known = {}
  for _, key in ipairs(M.known()) do
    known[key] = true
  end
  for key in pairs(opts) do
    if not known[key] then
      error(('unknown option %q (known: %s)'):format(tostring(key), table.concat(M.known(), ', ')), 0)
    end
  end
  util.validate('opts.relay', opts.relay, is_relay_url, true, 'a ws://, wss://, http:// or https:// URL with a host')
  util.validate('opts.name', opts.name, non_empty, true, 'a non-empty string')
  util.validate('opts.lsp_path', opts.lsp_path, non_empty, true, 'a non-empty string (path of pairprog-lsp)')
  util.validate('opts.room', opts.room, M.is_room_link, true, 'a room id or id#secret (letters, digits, - and _)')
  util.validate('opts.root_dir', opts.root_dir, function(v)
    return type(v) == 'function' or (type(v) == 'string' and vim.fn.isdirectory(v) == 1)
  end, true, 'an existing directory or a function returning one')
  util.validate('opts.cursor_throttle_ms', opts.cursor_throttle_ms, function(v)
    return type(v) == 'number' and v >= 0 and v <= 10000
  end, true, 'a number of milliseconds between 0 and 10000')
  util.validate('opts.label_position', opts.label_position, function(v)
    return LABEL_POSITIONS[v] == true
  end, true, "one of 'eol', 'inline', 'right_align', 'overlay'")
end

---@return string[]
function M.known()
  return { 'relay', 'name', 'lsp_path', 'room', 'root_dir', 'cursor_throttle_ms', 'label_position' }
end

--- Validates and fills in defaults. Raises on invalid options.
---@param opts table?
---@return table config
function M.resolve(opts)
  local ok, err = pcall(M.validate, opts)
  if not ok then
    error('pairprog.setup: ' .. tostring(err):gsub('^[^:]*:%d+: ', ''), 0)
  end
  opts = opts or {}
  local cfg = vim.tbl_extend('force', {}, M.defaults, opts)
  cfg.relay = cfg.relay:gsub('/+$', '')
  if cfg.name == nil then
    local user = vim.env.USER or vim.env.USERNAME
    cfg.name = (user and user ~= '') and user or 'anonymous'
  end
  return cfg
end

--- The workspace root for this config, absolute, without a trailing separator.
---@param cfg table
---@return string
function M.root_dir(cfg)
  local root = cfg.root_dir
  if type(root) == 'function' then
    root = root()
  end
  root = root or vim.fn.getcwd()
  root = vim.fn.fnamemodify(root, ':p')
  root = vim.fs.normalize(root)
  if #root > 1 then
    root = root:gsub('/$', '')
  end
  return root
end

--- Path of pairprog-lsp, or nil and an actionable message.
---@param cfg table
---@return string? path, string? problem
function M.lsp_path(cfg)
  if cfg.lsp_path then
    local path = vim.fn.exepath(vim.fn.expand(cfg.lsp_path))
    if path == '' then
      return nil,
        (
          'lsp_path %q is not an executable file. Build it with `cargo build -p pairprog-lsp` '
          .. '(or `cargo install --path lsp`) in the pairprog repository, or fix lsp_path '
          .. 'in require("pairprog").setup({...})'
        ):format(cfg.lsp_path)
    end
    return path
  end
  local path = vim.fn.exepath('pairprog-lsp')
  if path == '' then
    return nil,
      'pairprog-lsp was not found on PATH. Install it with `cargo install --path lsp` in the '
        .. 'pairprog repository, or give its path: require("pairprog").setup({ lsp_path = '
        .. '"/path/to/pairprog-lsp" })'
  end
  return path
end

return M
