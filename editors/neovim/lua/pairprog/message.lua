-- Messages for the user that never take their keys. A message that is longer than the
-- command line, or has several lines, raises Neovim's hit-enter prompt: while it is up,
-- the user's next key only dismisses it and pairprog-lsp's workspace/applyEdit waits, so
-- collaborators' edits stop. So every message is one line, cut to fit the command line
-- (v:echospace); the whole text stays in a short history that `:Pairprog status` shows.
-- Requests that would ask the user something (window/showMessageRequest) are answered at
-- once, with no choice: the message is shown the same way and the user acts through a
-- command instead (`:Pairprog recovered` opens a recovered copy).

local M = {}

--- Newest last: { level = integer, text = string } (whole, uncut).
---@type {level: integer, text: string}[]
M.history = {}
M.HISTORY_LIMIT = 20
--- Messages shown so far (the history is cut, this is not).
M.count = 0

--- Recovered copies pairprog-lsp wrote (newest last), from its messages.
---@type string[]
M.recovered = {}

--- `text` on one line, at most `width` display cells, cut with '…' at the end.
---@param text string
---@param width integer
---@return string
function M.fit(text, width)
  local line = vim.trim((text:gsub('%s*[\r\n]+%s*', ' · ')))
  if vim.fn.strdisplaywidth(line) <= width then
    return line
  end
  local chars = vim.fn.strchars(line)
  local lo, hi = 0, chars
  -- The longest prefix that fits with the ellipsis (binary search: display widths vary).
  while lo < hi do
    local mid = math.floor((lo + hi + 1) / 2)
    if vim.fn.strdisplaywidth(vim.fn.strcharpart(line, 0, mid)) + 1 <= width then
      lo = mid
    else
      hi = mid - 1
    end
  end
  return vim.fn.strcharpart(line, 0, lo) .. '…'
end

--- The room of the command line for one message, never less than 20 cells.
---@return integer
function M.width()
  return math.max(20, (tonumber(vim.v.echospace) or 60) - 1)
end

--- Shows `text` as a one-line notification at `level` (vim.log.levels; INFO default)
--- and keeps it in the history.
---@param text string
---@param level integer?
function M.show(text, level)
  level = level or vim.log.levels.INFO
  M.count = M.count + 1
  table.insert(M.history, { level = level, text = text })
  while #M.history > M.HISTORY_LIMIT do
    table.remove(M.history, 1)
  end
  local shown = text
  local path = text:match('kept at (%S+)%s*$')
  if path then
    table.insert(M.recovered, path)
    -- The path is long: the command that opens it comes first, so it is never cut.
    shown = ':Pairprog recovered opens your copy. '
      .. text:gsub('^pairprog: ', ''):gsub('%s*Your version is kept at %S+%s*$', '')
    shown = 'pairprog: ' .. shown
  end
  vim.notify(M.fit(shown, M.width()), level)
end

-- LSP MessageType (1 error, 2 warning, 3 info, 4 log) -> vim.log.levels.
local LEVELS = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }

--- window/showMessage for our client.
function M.on_show_message(_, params)
  if type(params) == 'table' and type(params.message) == 'string' then
    local text = params.message
    if not text:match('^pairprog') then
      text = 'pairprog: ' .. text
    end
    M.show(text, LEVELS[params.type] or vim.log.levels.INFO)
  end
  return vim.NIL
end

--- window/showMessageRequest for our client: shown like any message, answered at once
--- with no action chosen, so no prompt waits for the user's keys.
function M.on_show_message_request(err, params, ctx)
  M.on_show_message(err, params, ctx)
  return vim.NIL
end

return M
