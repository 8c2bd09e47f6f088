"""The aiohttp web app: health, the Rasa action endpoint, the REST API and the agent console."""
