"""autoencoders assignment package."""
