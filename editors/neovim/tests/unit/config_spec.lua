-- Option validation and "require alone does nothing".
local T = ...

T.test('require alone does nothing', function()
  local pairprog = require('pairprog')
  T.eq(nil, pairprog.config, 'config before setup')
  T.eq(false, pcall(vim.api.nvim_get_autocmds, { group = 'pairprog' }), 'augroup pairprog exists')
  T.eq(0, #vim.lsp.get_clients(), 'clients')
  T.eq('', pairprog.statusline(), 'statusline before setup')
end)

T.test('defaults', function()
  local cfg = require('pairprog.config').resolve({})
  T.eq('ws://127.0.0.1:8787', cfg.relay)
  local user = vim.env.USER
  T.eq((user and user ~= '') and user or 'anonymous', cfg.name)
  T.eq(50, cfg.cursor_throttle_ms)
  T.eq('eol', cfg.label_position)
  T.eq(nil, cfg.room)
  T.eq(nil, cfg.lsp_path)
  T.eq(cfg, require('pairprog.config').resolve(nil), 'nil options')
end)

T.test('name defaults to $USER, else anonymous', function()
  local saved = vim.env.USER
  vim.env.USER = 'ana'
  T.eq('ana', require('pairprog.config').resolve({}).name)
  vim.env.USER = nil
  local saved_name = vim.env.USERNAME
  vim.env.USERNAME = nil
  T.eq('anonymous', require('pairprog.config').resolve({}).name)
  vim.env.USER = saved
  vim.env.USERNAME = saved_name
end)

T.test('valid options are kept', function()
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local cfg = require('pairprog.config').resolve({
    relay = 'wss://relay.example:443/',
    name = 'ana',
    lsp_path = '/opt/pairprog-lsp',
    room = 'x1-AbC_9',
    root_dir = dir,
    cursor_throttle_ms = 0,
    label_position = 'inline',
  })
  T.eq('wss://relay.example:443', cfg.relay, 'trailing / trimmed')
  T.eq('ana', cfg.name)
  T.eq('x1-AbC_9', cfg.room)
  T.eq(0, cfg.cursor_throttle_ms)
  T.eq('inline', cfg.label_position)
  for _, relay in ipairs({ 'ws://h:1', 'http://127.0.0.1:8787', 'https://h' }) do
    T.eq(relay, require('pairprog.config').resolve({ relay = relay }).relay)
  end
  T.eq(
    dir,
    require('pairprog.config')
      .resolve({
        root_dir = function()
          return dir
        end,
      })
      .root_dir()
  )
end)

local bad = {
  { { relay = 5 }, 'opts.relay' },
  { { relay = 'localhost:8787' }, 'opts.relay' },
  { { relay = 'ftp://host' }, 'opts.relay' },
  { { relay = 'ws://' }, 'opts.relay' },
  { { name = '' }, 'opts.name' },
  { { name = '   ' }, 'opts.name' },
  { { name = 42 }, 'opts.name' },
  { { lsp_path = '' }, 'opts.lsp_path' },
  { { lsp_path = true }, 'opts.lsp_path' },
  { { room = 'a b' }, 'opts.room' },
  { { room = 'abc#' }, 'opts.room' },
  { { room = 'abc#se cret' }, 'opts.room' },
  { { room = 12 }, 'opts.room' },
  { { root_dir = '/definitely/not/a/dir' }, 'opts.root_dir' },
  { { root_dir = 3 }, 'opts.root_dir' },
  { { cursor_throttle_ms = -1 }, 'opts.cursor_throttle_ms' },
  { { cursor_throttle_ms = '50' }, 'opts.cursor_throttle_ms' },
  { { label_position = 'above' }, 'opts.label_position' },
  { { relai = 'ws://x' }, 'unknown option "relai"' },
}
for _, case in ipairs(bad) do
  T.test('refuses ' .. vim.inspect(case[1], { newline = ' ', indent = '' }), function()
    T.raises('pairprog.setup: ' .. case[2], require('pairprog.config').resolve, case[1])
  end)
end

T.test('refuses options that are not a table', function()
  T.raises('pairprog.setup: opts', require('pairprog.config').resolve, 'ws://x')
end)

T.test('setup() raises on bad options and starts nothing', function()
  T.raises('opts.relay', require('pairprog').setup, { relay = 'nope' })
  T.eq(nil, require('pairprog').config)
  T.eq(false, pcall(vim.api.nvim_get_autocmds, { group = 'pairprog' }), 'augroup pairprog exists')
end)

T.test('lsp_path: missing binary gives an actionable message', function()
  local config = require('pairprog.config')
  local saved = vim.env.PATH
  vim.env.PATH = '/nonexistent'
  local path, problem = config.lsp_path(config.resolve({}))
  vim.env.PATH = saved
  T.eq(nil, path)
  T.truthy(problem:find('not found on PATH', 1, true), problem)
  T.truthy(problem:find('cargo install --path lsp', 1, true), problem)
  T.truthy(problem:find('lsp_path', 1, true), problem)
  path, problem = config.lsp_path(config.resolve({ lsp_path = '/nonexistent/pairprog-lsp' }))
  T.eq(nil, path)
  T.truthy(problem:find('is not an executable', 1, true), problem)
  path = config.lsp_path(config.resolve({ lsp_path = vim.v.progpath }))
  T.eq(vim.v.progpath, path)
end)

T.test('relay URL to HTTP', function()
  local util = require('pairprog.util')
  T.eq('http://127.0.0.1:8787', util.http_url('ws://127.0.0.1:8787'))
  T.eq('https://r.example', util.http_url('wss://r.example/'))
  T.eq('http://h:1', util.http_url('http://h:1'))
  T.eq({ '127.0.0.1', 8787 }, { util.host_port('http://127.0.0.1:8787') })
  T.eq({ 'r.example', 443 }, { util.host_port('https://r.example') })
  T.eq({ '::1', 9 }, { util.host_port('http://[::1]:9') })
end)

T.test('plugin file: load guard, :Pairprog and its completion', function()
  vim.g.loaded_pairprog = nil
  vim.cmd.source(T.plugin_dir .. '/plugin/pairprog.lua')
  T.eq(1, vim.g.loaded_pairprog)
  T.eq(2, vim.fn.exists(':Pairprog'))
  vim.api.nvim_del_user_command('Pairprog')
  vim.cmd.source(T.plugin_dir .. '/plugin/pairprog.lua')
  T.eq(0, vim.fn.exists(':Pairprog'), 'sourced twice defines again')
  vim.g.loaded_pairprog = nil
  vim.cmd.source(T.plugin_dir .. '/plugin/pairprog.lua')
  T.eq({ 'create', 'join', 'leave', 'status', 'recovered' }, vim.fn.getcompletion('Pairprog ', 'cmdline'))
  T.eq({ 'join' }, vim.fn.getcompletion('Pairprog j', 'cmdline'))
  T.eq({}, vim.fn.getcompletion('Pairprog status x', 'cmdline'))
  T.eq(nil, require('pairprog').config, ':Pairprog defined without setup')
end)

T.test('help file: tags are generated without errors', function()
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  vim.fn.writefile(vim.fn.readfile(T.plugin_dir .. '/doc/pairprog.txt'), dir .. '/pairprog.txt')
  vim.cmd.helptags(dir)
  local tags = table.concat(vim.fn.readfile(dir .. '/tags'), '\n')
  for _, tag in ipairs({ 'pairprog.txt', ':Pairprog', 'pairprog-options', 'pairprog-statusline', 'pairprog-health' }) do
    T.truthy(tags:find(tag .. '\t', 1, true), 'tag ' .. tag)
  end
end)

T.test('room links: an id, or id#secret', function()
  local config = require('pairprog.config')
  T.eq(true, config.is_room_link('x1-AbC_9'))
  T.eq(true, config.is_room_link('x1-AbC_9#s3cr-t_'))
  T.eq(false, config.is_room_link('#secret'))
  T.eq(false, config.is_room_link('a#b#c'))
  T.eq(false, config.is_room_link(12))
  T.eq('abc#sec', config.resolve({ room = 'abc#sec' }).room)
end)
