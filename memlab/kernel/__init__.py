"""Facts of the Linux kernel's ABI that memlab relies on (memlab.kernel.abi).

The bottom layer: it imports nothing of memlab, and every other module takes these
numbers from here instead of spelling them again.
"""
