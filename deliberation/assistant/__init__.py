"""The AI assistant: grounded group summaries, duplicate flags, bridging suggestions, chat.

Every feature has an offline behaviour that needs no model (extractive summaries, local text
similarity, ranking existing statements) and says which features are limited, so the
assistant works, honestly degraded, with no endpoint configured or when the model fails.
"""
