-- Small helpers that hide the differences between Neovim 0.10 and 0.11.

local M = {}

M.has_011 = vim.fn.has('nvim-0.11') == 1

--- vim.validate in the form each version supports (0.11 deprecates the table form, 0.10
--- has only that one).
---@param name string
---@param value any
---@param validator string|string[]|fun(v:any):boolean,string?
---@param optional? boolean
---@param message? string shown when a function validator fails
function M.validate(name, value, validator, optional, message)
  if optional and value == nil then
    return
  end
  if M.has_011 then
    vim.validate(name, value, validator, false, message)
  elseif type(validator) == 'function' then
    vim.validate({ [name] = { value, validator, message } })
  else
    vim.validate({ [name] = { value, validator } })
  end
end

--- Client methods are called with `:` from 0.11 on; 0.10 has plain functions.
---@param client vim.lsp.Client
---@param method string
---@param params table?
---@return boolean
function M.notify(client, method, params)
  if M.has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

---@param client vim.lsp.Client
---@param method string
---@param params table?
---@param handler fun(err: table?, result: any, ctx: table)
---@param bufnr integer?
function M.request(client, method, params, handler, bufnr)
  if M.has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

---@param client vim.lsp.Client
---@return boolean
function M.is_stopped(client)
  if M.has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- `workspace/executeCommand`: client:exec_cmd where it exists (0.11), else a request.
---@param client vim.lsp.Client
---@param command string
---@param arguments any[]?
---@param handler fun(err: table?, result: any)
function M.exec_cmd(client, command, arguments, handler)
  local function on_result(err, result)
    handler(err, result)
  end
  if M.has_011 and client.exec_cmd then
    client:exec_cmd({ title = command, command = command, arguments = arguments }, {}, on_result)
  else
    M.request(client, 'workspace/executeCommand', { command = command, arguments = arguments }, on_result)
  end
end

--- The relay URL's HTTP equivalent: ws:// → http://, wss:// → https://, no trailing `/`.
---@param relay string
---@return string
function M.http_url(relay)
  local url = relay:gsub('/+$', '')
  if url:sub(1, 5) == 'ws://' then
    return 'http://' .. url:sub(6)
  elseif url:sub(1, 6) == 'wss://' then
    return 'https://' .. url:sub(7)
  end
  return url
end

--- host and port of an http(s) URL (port defaulted from the scheme).
---@param url string
---@return string? host, integer? port
function M.host_port(url)
  local scheme, rest = url:match('^(%a+)://([^/]+)')
  if not rest then
    return nil, nil
  end
  local host, port = rest:match('^%[(.+)%]:(%d+)$')
  if not host then
    host, port = rest:match('^([^:]+):(%d+)$')
  end
  if not host then
    host = rest:gsub('^%[(.*)%]$', '%1')
    port = (scheme == 'https' or scheme == 'wss') and 443 or 80
  end
  return host, tonumber(port)
end

return M
