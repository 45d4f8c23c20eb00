"""The Pixoo 64 display: rendering and the device client."""
