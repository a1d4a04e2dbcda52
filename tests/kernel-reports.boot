# Boot banners that match tests/kernel-reports without being reports: left
# out when a whole guest console is checked. One extended regular
# expression a line.
RCU lockdep checking is enabled
kmemleak: Kernel memory leak detector initialized
kmemleak: Automatic memory scanning thread started
