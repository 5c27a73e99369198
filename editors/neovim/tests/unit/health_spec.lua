-- The relay check of :checkhealth pairprog, against a tiny HTTP server on 127.0.0.1.
local T = ...
local health = require('pairprog.health')

local function server(status)
  local srv = assert(vim.uv.new_tcp())
  assert(srv:bind('127.0.0.1', 0))
  srv:listen(16, function()
    local conn = vim.uv.new_tcp()
    srv:accept(conn)
    conn:read_start(function(_, data)
      if data and data:find('\r\n\r\n', 1, true) then
        conn:write(('HTTP/1.1 %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'):format(status), function()
          conn:close()
        end)
      elseif not data then
        conn:close()
      end
    end)
  end)
  return srv, 'http://127.0.0.1:' .. srv:getsockname().port
end

local function closed_port()
  local s = assert(vim.uv.new_tcp())
  assert(s:bind('127.0.0.1', 0))
  local port = s:getsockname().port
  s:close()
  return 'http://127.0.0.1:' .. port
end

if vim.fn.executable('curl') == 1 then
  T.test('curl: 200 from /liveness is reachable', function()
    local srv, url = server('200 OK')
    local ok, detail = health.reachable(url, true)
    srv:close()
    T.eq(true, ok, detail)
    T.truthy(detail:find('answered 200', 1, true), detail)
  end)

  T.test('curl: another status is not', function()
    local srv, url = server('503 Service Unavailable')
    local ok, detail = health.reachable(url, true)
    srv:close()
    T.eq(false, ok, detail)
    T.truthy(detail:find('503', 1, true), detail)
  end)

  T.test('curl: nothing listening', function()
    local ok, detail = health.reachable(closed_port(), true)
    T.eq(false, ok, detail)
  end)
end

T.test('without curl: TCP connect', function()
  local srv, url = server('200 OK')
  local ok, detail = health.reachable(url, false)
  srv:close()
  T.eq(true, ok, detail)
  T.truthy(detail:find('TCP connect', 1, true), detail)
  ok, detail = health.reachable(closed_port(), false)
  T.eq(false, ok, detail)
  T.truthy(detail:find('failed', 1, true), detail)
end)
