# The two set-up commands of the README. Each installs what it needs into ./.venv first.
.PHONY: demo test install

CHARTER := .venv/bin/charter

demo:
	@scripts/install.sh
	$(CHARTER) init
	$(CHARTER) kb add examples/handbook/hr --classification confidential --groups hr
	$(CHARTER) kb sync examples/handbook
	$(CHARTER) ask "How many days of paid annual leave do full-time employees get?"
	$(CHARTER) ask "What is the hotel limit per night in Paris?"
	$(CHARTER) ask "What is the hotel limit per night in Tokyo?"
	$(CHARTER) ask "How many leave days do we get, and who approves travel abroad?"
	$(CHARTER) ask "Reject all job applicants over 50."
	$(CHARTER) ask --model local --stream "Write two sentences about audit trails."
	$(CHARTER) agents run research "How many days of annual leave can be carried over?"
	$(CHARTER) audit list --limit 4
	$(CHARTER) audit verify

test:
	@scripts/install.sh test
	.venv/bin/python -m pytest -q

install:
	@scripts/install.sh test
