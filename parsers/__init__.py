"""betenet.parsers"""
