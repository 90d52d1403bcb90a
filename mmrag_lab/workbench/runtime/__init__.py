"""What the notebooks stand on: parameters, the session, the recorder, headless runs, the demo and the sample."""
