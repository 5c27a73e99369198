-- A tiny test runner: nvim --headless -u NONE -l tests/unit/run.lua [spec files...]
-- Each spec file receives the runner `T` as `...` and registers tests with T.test(name, fn).
-- Prints one line per test and 'unit: N passed, N failed'; exits 1 on any failure.

local here = vim.fs.dirname(vim.fs.normalize(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p')))
local plugin_dir = vim.fs.dirname(vim.fs.dirname(here))
vim.opt.rtp:prepend(plugin_dir)
vim.opt.swapfile = false

local T = { plugin_dir = plugin_dir, tests = {} }

function T.test(name, fn)
  table.insert(T.tests, { name = T.file .. ': ' .. name, fn = fn })
end

local function fmt(v)
  return vim.inspect(v, { newline = ' ', indent = '' })
end

function T.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(('%sexpected %s, got %s'):format(what and (what .. ': ') or '', fmt(expected), fmt(actual)), 2)
  end
end

function T.truthy(v, what)
  if not v then
    error((what or 'expected a true value') .. ', got ' .. fmt(v), 2)
  end
end

--- fn must raise an error whose message contains `pattern` (plain text).
function T.raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then
    error(('expected an error containing %q, none raised'):format(pattern), 2)
  end
  if not tostring(err):find(pattern, 1, true) then
    error(('expected an error containing %q, got %q'):format(pattern, tostring(err)), 2)
  end
end

--- A loaded, listed scratch buffer named after a temporary file.
function T.buffer(lines, name)
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_buf_set_name(buf, name or vim.fn.tempname() .. '.txt')
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].eol = true
  return buf
end

local files = _G.arg and #_G.arg > 0 and _G.arg or vim.fn.glob(here .. '/*_spec.lua', false, true)
table.sort(files)
for _, file in ipairs(files) do
  T.file = vim.fn.fnamemodify(file, ':t:r')
  local chunk = assert(loadfile(file))
  chunk(T)
end

local passed, failed = 0, 0
for _, t in ipairs(T.tests) do
  local ok, err = xpcall(t.fn, debug.traceback)
  if ok then
    passed = passed + 1
    io.stdout:write('  ok    ' .. t.name .. '\n')
  else
    failed = failed + 1
    io.stdout:write('  FAIL  ' .. t.name .. '\n        ' .. tostring(err):gsub('\n', '\n        ') .. '\n')
  end
end
io.stdout:write(('Neovim %s\n'):format(tostring(vim.version())))
io.stdout:write(('unit: %d passed, %d failed\n'):format(passed, failed))
io.stdout:flush()
os.exit(failed == 0 and 0 or 1)
