-- :checkhealth pairprog

local M = {}

local health = vim.health

--- GET url/liveness, true when it answers 200: with curl when available (or when
--- `use_curl` says so), else only a TCP connect.
---@param url string http(s) base URL
---@param use_curl boolean?
---@return boolean ok, string detail
function M.reachable(url, use_curl)
  if use_curl == nil then
    use_curl = vim.fn.executable('curl') == 1
  end
  if use_curl then
    local result = vim
      .system(
        { 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', url .. '/liveness' },
        { text = true }
      )
      :wait(5000)
    local code = vim.trim(result.stdout or '')
    if result.code == 0 and code == '200' then
      return true, 'GET ' .. url .. '/liveness answered 200'
    end
    local why = vim.trim(result.stderr or '')
    if why == '' then
      why = 'HTTP ' .. (code ~= '' and code or '?')
    end
    return false, ('GET %s/liveness failed: %s'):format(url, why)
  end
  local host, port = require('pairprog.util').host_port(url)
  if not host then
    return false, 'cannot read a host from ' .. url
  end
  local addrs = vim.uv.getaddrinfo(host, tostring(port), { socktype = 'stream' })
  if not addrs or not addrs[1] then
    return false, 'cannot resolve ' .. host
  end
  local tcp = vim.uv.new_tcp()
  local done, ok, err = false, false, nil
  tcp:connect(addrs[1].addr, port, function(e)
    ok, err, done = e == nil, e, true
  end)
  vim.wait(3000, function()
    return done
  end, 20)
  if not tcp:is_closing() then
    tcp:close()
  end
  if ok then
    return true, ('TCP connect to %s:%d succeeded (curl not found, no HTTP check)'):format(host, port)
  end
  return false, ('TCP connect to %s:%d failed: %s'):format(host, port, err or 'timed out')
end

function M.check()
  health.start('Neovim')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. version)
  else
    health.error('Neovim ' .. version .. ' is too old', { 'pairprog needs Neovim 0.10 or newer' })
  end

  health.start('setup')
  local pairprog = require('pairprog')
  local cfg = pairprog.config
  if cfg then
    health.ok('setup() was called')
  else
    health.warn('setup() was not called; checking the defaults', {
      'Call require("pairprog").setup({ relay = "ws://HOST:8787", name = "you" }) in your config',
    })
    cfg = require('pairprog.config').resolve({})
  end
  health.info(('relay: %s, name: %s, room: %s'):format(cfg.relay, cfg.name, cfg.room or '(none)'))

  health.start('pairprog-lsp')
  local path, problem = require('pairprog.config').lsp_path(cfg)
  if not path then
    health.error(problem or 'pairprog-lsp not found', {
      'cargo install --path lsp   (in the pairprog repository) puts it on PATH',
      'or: require("pairprog").setup({ lsp_path = "/path/to/pairprog-lsp" })',
    })
  else
    local ok, result = pcall(function()
      return vim.system({ path, '--version' }, { text = true }):wait(5000)
    end)
    local out = ok and result and vim.trim(result.stdout or '') or ''
    if ok and result.code == 0 and out:match('^pairprog%-lsp ') then
      health.ok(('found %s (%s)'):format(path, out))
    else
      health.error(
        ('%s --version failed: %s'):format(
          path,
          ok and (vim.trim(result.stderr or '') .. ' exit ' .. tostring(result.code)) or tostring(result)
        ),
        {
          'Rebuild it: cargo build -p pairprog-lsp',
        }
      )
    end
  end

  health.start('relay')
  local url = require('pairprog.util').http_url(cfg.relay)
  local ok, detail = M.reachable(url)
  if ok then
    health.ok(('relay %s reachable: %s'):format(cfg.relay, detail))
  else
    health.error(('relay %s not reachable: %s'):format(cfg.relay, detail), {
      'Start one: pairprog-relay --listen 127.0.0.1:8787',
      'or point the plugin at yours: setup({ relay = "ws://HOST:PORT" })',
    })
  end

  health.start('client')
  local client = require('pairprog.client').get()
  if not client then
    health.info('pairprog-lsp is not running (it starts with the first workspace file, or with :Pairprog)')
    health.info('position encodings offered: utf-8, utf-16, utf-32 (utf-8 first)')
    health.info('debounce_text_changes: 0 (changes are sent synchronously)')
    return
  end
  health.ok(('client %d running, root %s'):format(client.id, tostring(client.root_dir)))
  local enc = client.offset_encoding
  if enc == 'utf-8' then
    health.ok('position encoding: utf-8 (extmark columns need no conversion)')
  else
    health.warn(('position encoding: %s (converted to byte columns)'):format(tostring(enc)), {
      'The server did not pick utf-8, offered first; an old pairprog-lsp?',
    })
  end
  local debounce = client.flags and client.flags.debounce_text_changes
  if debounce == 0 then
    health.ok('debounce_text_changes: 0 (every change is sent at once)')
  else
    health.warn(('debounce_text_changes: %s'):format(tostring(debounce)), {
      'pairprog sets 0; something changed the client flags',
    })
  end
  local state = require('pairprog.presence').state
  health.info(('room: %s, connection: %s'):format(state.room or '(none)', state.connection))
  local stats = require('pairprog.client').stats
  health.info(
    ("collaborators' edits: %d applied, %d refused as stale (and sent again by pairprog-lsp)"):format(
      stats.applied,
      stats.refused
    )
  )
end

return M
