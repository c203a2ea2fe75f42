"""betenet.store"""
