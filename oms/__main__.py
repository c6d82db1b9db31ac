from oms.main import app

app(prog_name="oms")
