"""betenet.dataset"""
