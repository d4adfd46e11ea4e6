# The two set-up commands of the README. Each installs what it needs into ./.venv first.
.PHONY: demo test install

QUESTION ?= Write two sentences about audit trails.

demo:
	@scripts/install.sh
	.venv/bin/charter init
	.venv/bin/charter ask --model local --stream "$(QUESTION)"
	.venv/bin/charter ask "What does Charter record for each request?"
	.venv/bin/charter audit list --limit 2
	.venv/bin/charter audit verify

test:
	@scripts/install.sh test
	.venv/bin/python -m pytest -q

install:
	@scripts/install.sh test
