module spin-operator/tests/tools/tokenserver

go 1.26.0
