-- luacheck config for the pairprog Neovim plugin (luacheck lua plugin tests bench)
std = 'luajit'
-- vim.g, vim.opt, vim.env, vim.bo… are written to.
globals = { 'vim' }
-- stylua formats; lines it cannot break (long strings) are allowed.
max_line_length = false
-- Unused arguments named like callbacks' (_, buf, …) are part of the signature.
unused_args = false
