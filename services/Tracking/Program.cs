using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.Tracking;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("tracking");
builder.AddTracking();

var app = builder.Build();
app.MapTracking();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
