"""What a pull request shows: the access diff, the Mermaid graph, markdown, the review comment."""
