"""Crashes one "node" of a two-node test (tests/two_nodes.py) at a point the test knows.

Imported at start-up by every Python whose PYTHONPATH begins with this folder; acts only in
a torchrun worker ($RANK set) given $NODE_CRASH=<loop>:<N>, after its N-th step of:
  region   finished region units (tools/predict.py --region, dist_predict.sh)
  test     test iterations (eval.py, dist_test.sh)
  train    training iterations, their hooks (a checkpoint) included (dist_train.sh)
It SIGKILLs the node's launcher (torchrun: the worker's parent) and then itself, as a
machine that goes down does.
"""
import os


def _crash():
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _after(cls, name, limit):
    real, done = getattr(cls, name), []

    def counted(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        done.append(1)
        if len(done) >= limit:
            _crash()
        return out
    setattr(cls, name, counted)


_loop, _, _n = (os.environ.get('NODE_CRASH', '') if 'RANK' in os.environ else '').partition(':')
if _loop == 'region':
    from segearth_ov.mapping.region.records import Records
    _after(Records, 'write', int(_n))
elif _loop == 'test':
    from mmengine.runner.loops import TestLoop
    _after(TestLoop, 'run_iter', int(_n))
elif _loop == 'train':
    from mmengine.runner.loops import IterBasedTrainLoop
    _after(IterBasedTrainLoop, 'run_iter', int(_n))
