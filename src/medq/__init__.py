"""medq: answer medical questions with any LLM and measure, rigorously, how well it does."""

__version__ = "0.1.0"
