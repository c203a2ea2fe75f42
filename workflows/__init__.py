"""betenet.workflows"""
