"""One module per moto 5.2.5 gap; each has ``install()`` and a docstring naming the gap.

``localcloud.install()`` applies them in the order of ``ALL``.
"""
