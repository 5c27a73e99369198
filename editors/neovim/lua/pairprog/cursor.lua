-- The local cursor and selection, sent as $/pairprog/cursor (throttled).

local position = require('pairprog.position')

local M = {}

M.throttle_ms = 50

local timer = nil ---@type uv.uv_timer_t?
local last_sent = 0 -- ms (hrtime) of the last notification
local scheduled = false

local function now_ms()
  return vim.uv.hrtime() / 1e6
end

--- The selections of window `win` as LSP positions in `encoding`; mirrors
--- protocol/src/editor.rs EditorSelection { anchor, head } (anchor == head for a cursor).
---@param win integer
---@param encoding string
---@return {anchor: {line: integer, character: integer}, head: {line: integer, character: integer}}[]
function M.selections(win, encoding)
  local buf = vim.api.nvim_win_get_buf(win)
  local cur = vim.api.nvim_win_get_cursor(win)
  local hrow, hcol = cur[1] - 1, cur[2]
  local mode = vim.api.nvim_get_mode().mode
  local visual = mode:sub(1, 1)
  local line = function(row)
    return vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
  end
  hcol = math.min(hcol, #line(hrow))
  local head = position.from_buf(buf, hrow, hcol, encoding)
  if win ~= vim.api.nvim_get_current_win() or not (visual == 'v' or visual == 'V' or visual == '\22') then
    return { { anchor = head, head = head } }
  end
  local v = vim.fn.getpos('v')
  local arow, acol = v[2] - 1, math.min(v[3] - 1, #line(v[2] - 1))
  local forward = arow < hrow or (arow == hrow and acol <= hcol)
  if visual == 'V' then
    -- Whole lines.
    if forward then
      acol, hcol = 0, #line(hrow)
    else
      acol, hcol = #line(arow), 0
    end
  elseif forward then
    -- Visual mode includes the character under the cursor.
    hcol = hcol + position.char_len(line(hrow), hcol)
  else
    acol = acol + position.char_len(line(arow), acol)
  end
  return {
    {
      anchor = position.from_buf(buf, arow, acol, encoding),
      head = position.from_buf(buf, hrow, hcol, encoding),
    },
  }
end

--- Sends the current window's cursor if its buffer is attached to `client`;
--- params mirror protocol/src/editor.rs CursorParams { uri, selections }.
---@param client vim.lsp.Client
function M.send_now(client)
  local buf = vim.api.nvim_get_current_buf()
  if not vim.lsp.buf_is_attached(buf, client.id) then
    return
  end
  last_sent = now_ms()
  require('pairprog.util').notify(client, '$/pairprog/cursor', {
    uri = vim.uri_from_bufnr(buf),
    selections = M.selections(vim.api.nvim_get_current_win(), client.offset_encoding or 'utf-16'),
  })
end

--- The cursor moved: send it now, or when the throttle interval is over (the last
--- position always goes out).
---@param get_client fun(): vim.lsp.Client?
function M.moved(get_client)
  if scheduled then
    return
  end
  local wait = M.throttle_ms - (now_ms() - last_sent)
  if wait <= 0 then
    local client = get_client()
    if client then
      M.send_now(client)
    end
    return
  end
  scheduled = true
  timer = timer or vim.uv.new_timer()
  timer:start(
    math.ceil(wait),
    0,
    vim.schedule_wrap(function()
      scheduled = false
      local client = get_client()
      if client then
        M.send_now(client)
      end
    end)
  )
end

function M.stop()
  if timer then
    timer:stop()
    if not timer:is_closing() then
      timer:close()
    end
    timer = nil
  end
  scheduled = false
end

return M
