-- :Pairprog command. Loads nothing else until it is used; require('pairprog').setup()
-- starts pairprog-lsp for the workspace.
if vim.g.loaded_pairprog then
  return
end
vim.g.loaded_pairprog = 1

if vim.fn.has('nvim-0.10') ~= 1 then
  vim.api.nvim_echo({ { 'pairprog needs Neovim 0.10 or newer', 'ErrorMsg' } }, true, {})
  return
end

vim.api.nvim_create_user_command('Pairprog', function(opts)
  require('pairprog').command(opts.fargs)
end, {
  nargs = '+',
  desc = 'pairprog: create | join {id} | leave | status',
  complete = function(arglead, cmdline)
    return require('pairprog').complete(arglead, cmdline)
  end,
})
