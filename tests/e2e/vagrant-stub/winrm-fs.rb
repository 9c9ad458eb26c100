# Stand-in for the winrm-fs gem (see winrm.rb here).
