pytest_plugins = ["tests.dbfixtures"]
