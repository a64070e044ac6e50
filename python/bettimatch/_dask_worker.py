"""Worker preload of the LocalCluster that `evaluate --scheduler local[:N]` starts.

A Ctrl-C at the terminal reaches every process of the foreground group, the worker processes
too; they leave it to the command, which cancels the run and closes the cluster in order
(without this, each worker would die with a KeyboardInterrupt traceback of its own).
"""

import signal
import threading


def dask_setup(worker) -> None:  # the hook that distributed calls in each worker process
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
