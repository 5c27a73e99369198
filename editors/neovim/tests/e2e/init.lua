-- Init file of the Neovim instances driven by tests/e2e/test_e2e.py and bench/latency.py.
-- Environment: PAIRPROG_PLUGIN_DIR, PAIRPROG_LSP_BIN, PAIRPROG_TEST_RELAY, PAIRPROG_TEST_NAME,
-- PAIRPROG_TEST_ROOM (the auto-join option), PAIRPROG_TEST_NO_SETUP=1 (no setup() call).
vim.opt.rtp:prepend(assert(vim.env.PAIRPROG_PLUGIN_DIR, 'PAIRPROG_PLUGIN_DIR'))
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.more = false
vim.opt.shortmess:append('I')

-- Keep every notification so the controller can read them.
_G.pairprog_test_messages = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(_G.pairprog_test_messages, { msg = msg, level = level })
  return notify(msg, level, opts)
end

if vim.env.PAIRPROG_TEST_NO_SETUP ~= '1' then
  require('pairprog').setup({
    relay = vim.env.PAIRPROG_TEST_RELAY,
    name = vim.env.PAIRPROG_TEST_NAME,
    lsp_path = vim.env.PAIRPROG_LSP_BIN ~= '' and vim.env.PAIRPROG_LSP_BIN or nil,
    room = vim.env.PAIRPROG_TEST_ROOM ~= '' and vim.env.PAIRPROG_TEST_ROOM or nil,
  })
end
