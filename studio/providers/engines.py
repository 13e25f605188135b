"""Remote image engines: Gemini, Seedream, fal, OpenRouter (issue 11). Registers nothing yet."""
