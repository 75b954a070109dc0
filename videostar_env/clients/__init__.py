"""Model clients: chat completions over DashScope or any OpenAI-compatible server, with retries."""

from .chat import ChatClient, DashScopeChat, OpenAIChat, jpeg_data_url
from .retry import PermanentError, RetryPolicy, TransientError, call_with_retries

__all__ = ["ChatClient", "DashScopeChat", "OpenAIChat", "PermanentError", "RetryPolicy", "TransientError",
           "call_with_retries", "jpeg_data_url"]
