"""Settings for every IPython kernel started from the project's .venv: the book build, nbval
and JupyterLab. tools/venv.sh installs this file as .venv/etc/ipython/ipython_kernel_config.py.

ipykernel 7 logs "Kernel is running over TCP without encryption..." at every start unless the
client that launched it provisioned CurveZMQ keys, which jupyter-cache (the book build) and
nbval do not offer. Those clients reach the kernel on 127.0.0.1 of this machine, so the warning
is noise printed once per notebook: it is dropped, and no other message is.
"""

import logging


class _DropLocalTCPNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "running over TCP without encryption" not in record.getMessage()


# traitlets names each application's logger after its class.
logging.getLogger("IPKernelApp").addFilter(_DropLocalTCPNotice())
