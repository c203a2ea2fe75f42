"""betenet.qe"""
