"""Stand-in for mmcv's compiled ops (`mmcv._ext`) where mmcv is installed without them.

tools/gpu_check.sh installs mmcv-lite (the mmcv 2.1.0 source built with MMCV_WITH_OPS=0)
on an offline GPU machine instead of compiling the ops there for minutes. mmseg imports
`mmcv.ops` when it loads (heads and a loss we never build), and mmcv checks that each op it
binds exists; no SegEarth-OV path calls one (docs/gpus.md). Every op name resolves here to a
function that raises, naming the fix, so a path that did need one fails loudly.
"""


def get_compiler_version():       # read by environment reports
    return 'mmcv ops not compiled (MMCV_WITH_OPS=0)'


def get_compiling_cuda_version():
    return 'not compiled'


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def not_compiled(*args, **kwargs):
        raise RuntimeError(
            f'mmcv op {name!r} is not compiled here (mmcv-lite, installed by '
            'tools/gpu_check.sh): install mmcv with its ops (tools/install.sh)')
    not_compiled.__name__ = name
    return not_compiled
