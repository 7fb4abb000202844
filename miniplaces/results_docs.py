"""stub"""
def render(results, here):
    return {}
