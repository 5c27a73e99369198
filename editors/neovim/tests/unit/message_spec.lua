-- Messages never raise a hit-enter prompt (one line that fits), room completion,
-- recovered copies' file type, and :help pairprog with the manual setup.
local T = ...
local message = require('pairprog.message')
local rooms = require('pairprog.rooms')

T.test('a message is one line that fits the width, cut with an ellipsis', function()
  T.eq('short', message.fit('short', 40))
  T.eq('a · b · c', message.fit('a\nb\r\n  c', 40))
  local cut = message.fit(string.rep('x', 100), 30)
  T.eq(30, vim.fn.strdisplaywidth(cut), 'width')
  T.truthy(cut:sub(-3) == '…', 'ends with an ellipsis')
  -- Wide characters count two cells each.
  local wide = message.fit(string.rep('漢', 40), 21)
  T.truthy(vim.fn.strdisplaywidth(wide) <= 21, 'wide characters fit: ' .. wide)
end)

T.test('show keeps the whole text, and the recovered copy named in it', function()
  local shown
  local notify = vim.notify
  vim.notify = function(msg)
    shown = msg
  end
  local ok, err = pcall(function()
    local long = "pairprog: the room's version of src/app.py replaced yours. Your version is kept at "
      .. '/home/ana/.local/state/pairprog/recovered/x1-abc/src/app.py.1765000000'
    message.on_show_message_request(nil, { type = 2, message = long, actions = { { title = 'Open my copy' } } })
    T.eq(long, message.history[#message.history].text)
    T.eq(
      '/home/ana/.local/state/pairprog/recovered/x1-abc/src/app.py.1765000000',
      message.recovered[#message.recovered]
    )
    T.truthy(vim.fn.strdisplaywidth(shown) <= message.width(), 'the shown line fits: ' .. shown)
    T.truthy(shown:find(':Pairprog recovered', 1, true), 'names the command: ' .. shown)
  end)
  vim.notify = notify
  assert(ok, err)
end)

T.test('join completion offers the remembered rooms, newest first', function()
  local state = vim.fn.tempname()
  local stdpath = vim.fn.stdpath
  vim.fn.stdpath = function(what)
    return what == 'state' and state or stdpath(what)
  end
  local ok, err = pcall(function()
    rooms.remember('x1-first')
    rooms.remember('x1-second#s3cret')
    rooms.remember('not a room')
    vim.fn.setreg('"', 'some yanked text')
    T.eq({ 'x1-second#s3cret', 'x1-first' }, require('pairprog').complete('', 'Pairprog join '))
    T.eq({ 'x1-first' }, require('pairprog').complete('x1-f', 'Pairprog join x1-f'))
  end)
  vim.fn.stdpath = stdpath
  assert(ok, err)
end)

T.test('a recovered copy has the file type of its file', function()
  require('pairprog.client').recovered_filetype()
  T.eq('python', vim.filetype.match({ filename = '/s/pairprog/recovered/x1-abc/src/app.py.1765000000' }))
  T.eq('rust', vim.filetype.match({ filename = '/s/pairprog/recovered/x1-abc/lib.rs.1765000000' }))
end)

T.test(':help pairprog works with the plugin directory on the runtimepath', function()
  -- doc/tags is committed: it must be what :helptags makes of doc/pairprog.txt now.
  local tmp = vim.fn.tempname()
  vim.fn.mkdir(tmp, 'p')
  vim.fn.writefile(vim.fn.readfile(T.plugin_dir .. '/doc/pairprog.txt'), tmp .. '/pairprog.txt')
  vim.cmd.helptags(vim.fn.fnameescape(tmp))
  T.eq(vim.fn.readfile(tmp .. '/tags'), vim.fn.readfile(T.plugin_dir .. '/doc/tags'), 'doc/tags is up to date')
  vim.cmd('help pairprog')
  T.eq('pairprog.txt', vim.fn.expand('%:t'))
  vim.cmd('help :Pairprog-recovered')
  T.eq('help', vim.bo.buftype)
  vim.cmd('helpclose')
end)
