"""test_pep492: async/await with asyncio's locks, streams and tasks, on a
fastloop loop.

The module's BaseTest.setUp builds a stock BaseEventLoop with a mocked
selector; here it makes a fastloop loop instead.
"""

import fastloop

from .. import runner


def _setup(self):
    from test.test_asyncio import utils as test_utils

    test_utils.TestCase.setUp(self)
    self.loop = fastloop.new_event_loop()
    self.set_event_loop(self.loop)


class Pep492Suite(runner.Suite):
    module = "test_pep492"

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name in self.not_adapted:
                continue
            if issubclass(cls, module.BaseTest):
                classes.append(runner.subclass(cls, setUp=_setup))
            else:
                classes.append(runner.subclass(cls))
        return classes


SUITE = Pep492Suite()
