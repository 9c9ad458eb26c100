# Stand-in for the winrm gem, which Debian 12's vagrant package does not
# ship: Vagrant requires it when it loads the winrm communicator plugin,
# which `vagrant validate` does for a box whose Vagrantfile says
# communicator "winrm"; validation never opens a WinRM connection, so
# empty classes for the names Vagrant's shell.rb lists at load time
# (plugins/communicators/winrm/shell.rb @@exceptions_to_retry_on) are
# enough.  Used only by tests/e2e/box*.sh through RUBYLIB.
module HTTPClient
  class KeepAliveDisconnected < StandardError; end
end
module WinRM
  class WinRMHTTPTransportError < StandardError; end
  class WinRMAuthorizationError < StandardError; end
  class WinRMWSManFault < StandardError; end
end
