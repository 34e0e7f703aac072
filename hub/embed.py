#!/usr/bin/env python3
# embed.py IN OUT SYMBOL: write the bytes of IN as a C array SYMBOL (with a
# trailing NUL not counted) and SYMBOL_len, so the hub serves a page with no
# file to find at run time. Run by meson (hub/meson.build); output not committed.
import os
import sys

src, out, sym = sys.argv[1], sys.argv[2], sys.argv[3]
with open(src, 'rb') as f:
    data = f.read()
with open(out, 'w') as f:
    f.write('/* generated from %s by hub/embed.py: do not edit */\n' % os.path.basename(src))
    f.write('#include <stddef.h>\n\n')
    f.write('extern const unsigned char %s[];\nextern const size_t %s_len;\n\n' % (sym, sym))
    f.write('const unsigned char %s[] = {\n' % sym)
    for i in range(0, len(data), 16):
        f.write('    ' + ', '.join('0x%02x' % c for c in data[i:i + 16]) + ',\n')
    f.write('    0x00};\nconst size_t %s_len = %d;\n' % (sym, len(data)))
