# Stand-in for the winrm-elevated gem (see winrm.rb here).
